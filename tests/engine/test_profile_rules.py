"""The out-of-region deduction (区域外扣减, GB/T 46869—2025) is a profile rule, applied to leaf rows (issue 7 item 8)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from qingshan.core.errors import ConfigError, InputError
from qingshan.core.notices import collecting
from qingshan.engine.rules import apply_profile_rules
from qingshan.indicators import registry


class _Regions:
    """Just the part of a RegionSet the rule uses: GB/T 2260 parents."""

    def ancestors(self, code: str) -> list[str]:
        return [code[:4] + "00", code[:2] + "0000"]


def _leaf() -> pd.DataFrame:
    rows = [("360102", "domestic", 60.0), ("360102", "industry", 40.0), ("360111", "domestic", 100.0),
            ("360203", "domestic", 100.0)]
    return pd.DataFrame([{"region_code": c, "year": 2019, "indicator": "water_supply", "component": comp,
                          "ecosystem": "wetland", "quantity": q, "unit": "m3"} for c, comp, q in rows]
                        + [{"region_code": "360102", "year": 2019, "indicator": "water_conservation", "component": "water_conservation",
                            "ecosystem": "forest", "quantity": 50.0, "unit": "m3"}])


def _stats(rows: list[tuple[str, float, str]]) -> pd.DataFrame:
    return pd.DataFrame([{"region_code": c, "year": 2019, "item": "out_of_region_share.water_supply", "value": v,
                          "unit": u, "source": "test"} for c, v, u in rows])


RULE = ({"id": "out_of_region_deduction", "indicators": ["water_supply"], "missing": "notice"},)


def test_share_is_deducted_per_region_and_from_a_parent() -> None:
    stats = _stats([("360102", 0.2, "1"), ("360100", 25, "percent")])
    with collecting() as found:
        out = apply_profile_rules(_leaf(), RULE, stats, _Regions())  # type: ignore[arg-type]
    q = out.set_index(["region_code", "indicator", "component"])["quantity"]
    # own share 0.2: 60 → 48, 40 → 32 (ecosystem split kept)
    assert q[("360102", "water_supply", "domestic")] == pytest.approx(48.0)
    assert q[("360102", "water_supply", "industry")] == pytest.approx(32.0)
    # the city's 25 % applies to 360111: 100 → 75
    assert q[("360111", "water_supply", "domestic")] == pytest.approx(75.0)
    # no share for 360203 (another city): unchanged, and said so
    assert q[("360203", "water_supply", "domestic")] == pytest.approx(100.0)
    # indicators not named by the rule are untouched
    assert q[("360102", "water_conservation", "water_conservation")] == pytest.approx(50.0)
    codes = {n.code for n in found}
    assert codes == {"out_of_region_deduction", "out_of_region_share_missing"}
    assert any("360203" in n.en for n in found if n.code == "out_of_region_share_missing")


def test_missing_share_is_an_error_when_the_rule_says_so() -> None:
    rule = ({**RULE[0], "missing": "error"},)
    with pytest.raises(InputError) as exc:
        apply_profile_rules(_leaf(), rule, _stats([("360102", 0.2, "1")]), _Regions())  # type: ignore[arg-type]
    assert "out_of_region_share.water_supply" in str(exc.value) and "360111" in str(exc.value)


def test_share_above_one_is_rejected() -> None:
    with pytest.raises(InputError, match=r"not in \[0, 1\]"):
        apply_profile_rules(_leaf(), RULE, _stats([("360102", 20, "1")]), _Regions())  # type: ignore[arg-type]


def test_gbt46869_profile_states_the_rule_and_certainty_tags() -> None:
    prof = registry().profile("gb-t-46869-2025")
    assert prof.rules and prof.rules[0]["id"] == "out_of_region_deduction"
    assert "water_supply" in prof.rules[0]["indicators"]
    assert all(e.certainty in {"V", "V-code", "R"} for e in prof.entries), [(e.indicator, e.certainty) for e in prof.entries]
    tags = {e.indicator: e.certainty for e in prof.entries}
    assert tags["carbon_sequestration"] == "V-code" and tags["water_conservation"] == "R"
    assert "oxygen_release" not in tags
    assert "unverified" in prof.status


@pytest.mark.parametrize(("rules", "needle"), [
    ('[[rules]]\nid = "teleport"\nindicators = ["water_supply"]\n', "teleport"),
    ('[[rules]]\nid = "out_of_region_deduction"\nindicators = ["eco_energy"]\n', "eco_energy"),
    ('[[rules]]\nid = "out_of_region_deduction"\nindicators = ["water_supply"]\nmissing = "ignore"\n', "ignore"),
])
def test_bad_rules_are_rejected_when_the_profile_loads(tmp_path: Path, rules: str, needle: str) -> None:
    path = tmp_path / "p.toml"
    path.write_text('id = "p"\n[[indicators]]\nid = "water_supply"\n' + rules, encoding="utf-8")
    with pytest.raises(ConfigError) as exc:
        registry().profile(str(path))
    assert needle in str(exc.value) and exc.value.fix
