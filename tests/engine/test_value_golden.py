"""``qingshan value`` reproduces the Baiyangdian 2011 table (江波 et al. 2017) and rejects bad quantities."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from qingshan.cli import app

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "baiyangdian_2011"
LINE_TOL = 0.01  # 亿元 (the paper rounds to 0.01)
TOTAL_TOL = 0.02


def run_value(quantities: Path, out: Path, profile: str = "rcees"):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, [
        "value", str(quantities),
        "--prices", str(GOLDEN / "prices.csv"),
        "--params", str(GOLDEN / "params.csv"),
        "--profile", profile,
        "-o", str(out),
    ])


@pytest.fixture(scope="module")
def golden_results(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    out = tmp_path_factory.mktemp("value_golden") / "out"
    result = run_value(GOLDEN / "quantities.csv", out)
    assert result.exit_code == 0, result.output
    for name in ("results.csv", "gep_accounts.xlsx", "provenance.json"):
        assert (out / name).is_file(), name
    return pd.read_csv(out / "results.csv", encoding="utf-8-sig", dtype={"region_code": str})


def _expected() -> pd.DataFrame:
    return pd.read_csv(GOLDEN / "expected.csv")


@pytest.mark.parametrize(
    ("indicator", "component"),
    [tuple(r) for r in _expected()[["indicator", "component"]].itertuples(index=False) if r[0] != "*"],
)
def test_golden_line(golden_results: pd.DataFrame, indicator: str, component: str) -> None:
    exp = _expected().set_index(["indicator", "component"]).loc[(indicator, component), "value_yi"]
    got = golden_results.loc[(golden_results["indicator"] == indicator) & (golden_results["component"] == component), "value"]
    assert len(got) == 1, f"{indicator}/{component}: {len(got)} rows"
    assert abs(got.iloc[0] / 1e8 - exp) <= LINE_TOL, (indicator, component, got.iloc[0] / 1e8, exp)


def test_golden_total(golden_results: pd.DataFrame) -> None:
    exp = _expected().set_index(["indicator", "component"]).loc[("*", "total"), "value_yi"]
    total = golden_results["value"].sum(skipna=True) / 1e8
    assert abs(total - exp) <= TOTAL_TOL, (total, exp)
    assert len(golden_results) == len(_expected()) - 1


# ----------------------------------------------------------------------------- bad quantities
def _edit_quantities(dst: Path, edit) -> Path:  # type: ignore[no-untyped-def]
    lines = (GOLDEN / "quantities.csv").read_text(encoding="utf-8-sig").splitlines()
    dst.write_text("\n".join(edit(lines)) + "\n", encoding="utf-8")
    return dst


def _assert_rejected(result, out: Path, *needles: str) -> None:  # type: ignore[no-untyped-def]
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert "Fix:" in result.output
    assert "修正方法" in result.output
    for n in needles:
        assert n in result.output, (n, result.output)
    assert not out.exists(), "output folder was created"
    assert not list(out.parent.glob(f".{out.name}.tmp-*"))


def test_value_indicator_not_in_profile(tmp_path: Path) -> None:
    # jiangxi-db36-2021 has no water_supply / flood_regulation / recreation / non_use_value
    q = _edit_quantities(tmp_path / "q.csv", lambda lines: lines)
    out = tmp_path / "out"
    _assert_rejected(run_value(q, out, profile="jiangxi-db36-2021"), out, "water_supply", "jiangxi-db36-2021", "不属于")


def test_value_unparseable_unit(tmp_path: Path) -> None:
    def edit(lines: list[str]) -> list[str]:
        lines[1] = lines[1].rsplit(",", 1)[0] + ",bananas"
        return lines

    q = _edit_quantities(tmp_path / "q.csv", edit)
    out = tmp_path / "out"
    _assert_rejected(run_value(q, out), out, "bananas", "无法识别单位")


def test_value_duplicate_row(tmp_path: Path) -> None:
    q = _edit_quantities(tmp_path / "q.csv", lambda lines: [*lines, lines[2]])
    out = tmp_path / "out"
    _assert_rejected(run_value(q, out), out, "Duplicate", "重复", "forestry_products")


def test_value_negative_quantity(tmp_path: Path) -> None:
    def edit(lines: list[str]) -> list[str]:
        lines[1] = lines[1].replace(",wetland,3.08,", ",wetland,-3.08,")
        assert "-3.08" in lines[1]
        return lines

    q = _edit_quantities(tmp_path / "q.csv", edit)
    out = tmp_path / "out"
    _assert_rejected(run_value(q, out), out, "negative", "负值")
