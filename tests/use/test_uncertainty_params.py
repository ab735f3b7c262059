"""Parameter uncertainty (issue 10, item 2): distributions on parameters, analytic scaling of linear
parameters, recomputation of the others on the engine (in-process and on Dask workers).

The store holds one run of the Jiangxi example reduced to carbon sequestration and oxygen release
(the other indicators excluded), so that a recomputed draw takes well under a second.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

import qingshan
from qingshan.core.errors import ConfigError, InputError
from qingshan.core.params import ParameterTable, file_sha256
from qingshan.use.uncertainty import (
    LINEAR_PARAMETERS,
    Recompute,
    _recompute,
    build_model,
    read_distributions,
    run_uncertainty,
    table_distributions,
)

KEEP = ("carbon_sequestration", "oxygen_release")
EXAMPLE = Path(qingshan.__file__).parent / "data" / "examples" / "jiangxi" / "jiangxi-2019.toml"


@pytest.fixture(scope="module")
def carbon_run(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    from qingshan.engine.config import load_config
    from qingshan.engine.run import account, plan
    from qingshan.store.db import open_store
    from qingshan.use.runs import load_run

    cfg = load_config(EXAMPLE)
    d = tmp_path_factory.mktemp("carbon_run")
    data = cfg.model_dump()
    data["exclude"] = [*data["exclude"], *({"id": s.id, "reason": "test"} for s, _ in plan(cfg).items if s.id not in KEEP)]
    data["run"].update(output=d / "out", store=f"sqlite:///{d / 'store.sqlite'}")
    table = pd.read_csv(data["tables"]["parameters"][0], dtype=str, keep_default_na=False)  # + distribution columns
    for col in ("dist_kind", "dist_a", "dist_b", "dist_c", "dist_source"):
        table[col] = ""
    table.loc[table["param_key"] == "nep_npp_ratio", ["dist_kind", "dist_a", "dist_b", "dist_c", "dist_source"]] = \
        ["triangular", "0.4", "0.5", "0.6", "example range (test)"]
    table.to_csv(d / "params.csv", index=False)
    data["tables"]["parameters"] = [d / "params.csv"]
    out = account(type(cfg).model_validate(data))
    f = open_store(f"sqlite:///{d / 'store.sqlite'}")
    run, cube, regions = load_run(f, out.run_id)
    return SimpleNamespace(factory=f, run_id=out.run_id, run=run, cube=cube, regions=regions,
                           params=run.provenance["parameters"], methods=run.provenance["methods"])


def _d(key: str, kind: str, a: float, b: float, c: float | None = None, unit: str | None = None) -> dict[str, Any]:
    return {"key": key, "kind": kind, "a": a, "b": b, "c": c, "source": "test", **({"unit": unit} if unit else {})}


def _model(r: SimpleNamespace, rows: list[dict[str, Any]]) -> Any:
    return build_model(r.cube, r.regions, read_distributions(rows), 2019, methods=r.methods, parameters=r.params,
                       config=r.run.config)


def _top(r: SimpleNamespace) -> str:
    return str(r.regions.loc[r.regions["parent"].isna(), "code"].iloc[0])


def test_linear_parameter_scaling_equals_a_recomputation_on_the_engine(carbon_run: SimpleNamespace) -> None:
    r = carbon_run
    alpha = float(r.params["nep_npp_ratio"]["value"])
    model = _model(r, [_d("param:nep_npp_ratio", "uniform", 0.3, 0.7)])
    assert model.handling == ["linear"] and model.recompute is None
    scaled = model.totals(np.array([[0.6]]))[:, 0]
    engine = Recompute(model_config(r), KEEP, 2019).values({"nep_npp_ratio": 0.6})
    leaves = set(engine["region_code"])
    top = _top(r)
    by_ind = engine.groupby("indicator")["value"].sum()
    base = model.base.set_index(["region_code", "indicator"])
    got = pd.Series(scaled, index=base.index)
    for ind in KEEP:
        assert got[(top, ind)] == pytest.approx(by_ind[ind], rel=1e-12)
        assert got[(top, ind)] == pytest.approx(base.loc[(top, ind), "value"] * 0.6 / alpha, rel=1e-12)
    assert leaves  # the engine gave leaf rows


def model_config(r: SimpleNamespace) -> str:
    import json

    return json.dumps(dict(r.run.config), sort_keys=True, default=str)


def test_linear_parameter_interval_matches_the_analytic_one(carbon_run: SimpleNamespace) -> None:
    r = carbon_run
    alpha = float(r.params["nep_npp_ratio"]["value"])
    res = run_uncertainty(r.factory, r.run_id, read_distributions([_d("param:nep_npp_ratio", "uniform", 0.4, 0.6)]),
                          draws=10000, seed=3, sobol_n=128)
    iv = res.intervals.set_index(["region_code", "indicator"])
    g = iv.loc[(res.region, "GEP")]
    k = g["value"] / alpha  # GEP = k·α here (both indicators are linear in α)
    # GEP is k·x exactly: its percentiles are k × those of the same draws (numpy default_rng(seed), one input)
    x = np.random.default_rng(3).uniform(0.4, 0.6, 10000)
    assert g["p5"] == pytest.approx(k * np.percentile(x, 5), rel=1e-12)
    assert g["p95"] == pytest.approx(k * np.percentile(x, 95), rel=1e-12)
    # and the analytic interval: the q-quantile of U(0.4, 0.6) is 0.4 + 0.2 q, MC standard error 0.2·√(q(1−q)/n)
    se = 0.2 * np.sqrt(0.05 * 0.95 / 10000)
    assert g["p5"] == pytest.approx(k * 0.41, abs=4 * se * k)
    assert g["p95"] == pytest.approx(k * 0.59, abs=4 * se * k)
    assert g["mean"] == pytest.approx(k * 0.5, rel=2e-3)
    assert res.inputs["handling"].tolist() == ["linear"] and res.meta["method"] == "sobol"
    sw = res.swing[res.swing["output"] == "GEP"].iloc[0]
    assert sw["low"] == pytest.approx(k * 0.41, rel=1e-12) and sw["high"] == pytest.approx(k * 0.59, rel=1e-12)


def test_zero_width_parameters_recomputed_and_scaled_give_exactly_the_run(carbon_run: SimpleNamespace) -> None:
    r = carbon_run
    fpar = float(r.params["fpar_max"]["value"])
    alpha = float(r.params["nep_npp_ratio"]["value"])
    rows = [_d("param:fpar_max", "uniform", fpar, fpar), _d("param:nep_npp_ratio", "triangular", alpha, alpha, alpha)]
    res = run_uncertainty(r.factory, r.run_id, read_distributions(rows), draws=2, seed=1, morris_r=2)
    assert res.inputs["handling"].tolist() == ["recompute", "linear"]
    assert res.meta["recomputed_indicators"] == list(KEEP) and res.meta["method"] == "morris"
    iv = res.intervals
    for col in ("mean", "p5", "p50", "p95"):
        np.testing.assert_array_equal(iv[col].to_numpy(), iv["value"].to_numpy())
    assert (res.sensitivity["mu_star"] == 0).all()


def test_recomputed_parameter_is_reproducible_and_moves_the_totals(carbon_run: SimpleNamespace) -> None:
    from qingshan.use.uncertainty import monte_carlo

    model = _model(carbon_run, [_d("param:fpar_max", "uniform", 0.85, 0.95)])
    assert model.handling == ["recompute"] and model.recompute is not None and model.recompute[1] == KEEP
    one, two = (monte_carlo(model, draws=2, seed=5) for _ in range(2))
    pd.testing.assert_frame_equal(one, two)
    g = one.set_index(["region_code", "indicator"]).loc[(_top(carbon_run), "GEP")]
    assert g["p5"] < g["p95"] <= g["value"] * (1 + 1e-12)  # fpar_max ≤ the run's 0.95: GEP does not rise
    assert model.evaluations == 4


def test_recomputation_in_small_blocks_equals_the_whole_grid(carbon_run: SimpleNamespace) -> None:
    import json

    cfg = json.loads(model_config(carbon_run))
    cfg["run"].update(block_size=48)
    blocks = Recompute(json.dumps(cfg), KEEP, 2019)
    whole = _recompute(model_config(carbon_run), KEEP, 2019)  # cached by the tests above
    a, b = (r.values({"fpar_max": 0.9}).sort_values(["region_code", "indicator", "component", "ecosystem"])
            for r in (blocks, whole))
    assert len(a) == len(b) > 0
    np.testing.assert_allclose(a["value"].to_numpy(), b["value"].to_numpy(), rtol=1e-9)


def test_draws_on_dask_workers_equal_the_in_process_draws(carbon_run: SimpleNamespace) -> None:
    distributed = pytest.importorskip("dask.distributed")
    model = _model(carbon_run, [_d("param:fpar_max", "uniform", 0.85, 0.95), _d("carbon_price", "lognormal", 474.78, 0.3)])
    x = np.array([[0.86, 0.93], [400.0, 520.0]])
    local = model.totals(x)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cl, \
            distributed.Client(cl) as client:
        model.client = client
        remote = model.totals(x)
    np.testing.assert_array_equal(local, remote)
    assert not np.array_equal(local[:, 0], local[:, 1])


@pytest.mark.parametrize(("row", "field", "en", "zh"), [
    (_d("param:no_such_param", "uniform", 1, 2), "key", "no scalar parameter", "没有该标量参数"),
    (_d("param:soil_n_content", "uniform", 0.003, 0.004), "key", "no method of this run uses", "均未使用该参数"),
    (_d("param:nep_npp_ratio@2019", "uniform", 0.4, 0.6), "key", "no @YEAR or @REGION", "不支持 @年份"),
    (_d("param:nep_npp_ratio", "normal", 0.5, 0.1), "key", "must stay > 0", "须 > 0"),
    (_d("param:nep_npp_ratio", "uniform", 0.0, 0.6), "key", "must stay > 0", "须 > 0"),
    (_d("param:nep_npp_ratio", "uniform", 0.4, 0.6, unit="%"), "unit", "is in %", "单位为 %"),
])
def test_unsupported_parameter_distributions_are_refused(carbon_run: SimpleNamespace, row: dict[str, Any], field: str,
                                                         en: str, zh: str) -> None:
    with pytest.raises(ConfigError) as e:
        _model(carbon_run, [row])
    assert e.value.field == field and en in e.value.en and zh in e.value.zh and e.value.fix and e.value.fix_zh


def test_positive_distributions_of_a_linear_parameter_are_accepted(carbon_run: SimpleNamespace) -> None:
    model = _model(carbon_run, [_d("param:nep_npp_ratio", "lognormal", 0.5, 0.2)])
    assert model.handling == ["linear"]
    model = _model(carbon_run, [_d("param:nep_npp_ratio", "triangular", 0.01, 0.5, 0.9)])
    assert model.handling == ["linear"]


def test_distributions_of_the_run_parameter_table_are_used(carbon_run: SimpleNamespace) -> None:
    r = carbon_run
    res = run_uncertainty(r.factory, r.run_id, [], draws=200, seed=1, sobol_n=32, param_tables=True)
    assert res.inputs[["key", "kind", "handling", "source"]].values.tolist() == \
        [["param:nep_npp_ratio", "triangular", "linear", "example range (test)"]]
    g = res.intervals.set_index(["region_code", "indicator"]).loc[(res.region, "GEP")]
    assert g["value"] * 0.8 < g["p5"] < g["value"] < g["p95"] < g["value"] * 1.2  # α ∈ [0.4, 0.6] around 0.5
    # a distribution-table row with the same key wins over the table's
    res = run_uncertainty(r.factory, r.run_id, read_distributions([_d("param:nep_npp_ratio", "uniform", 0.5, 0.5)]),
                          draws=20, seed=1, sobol_n=16, param_tables=True)
    assert res.inputs["kind"].tolist() == ["uniform"] and (res.intervals["p95"] == res.intervals["value"]).all()
    with pytest.raises(ConfigError) as e:
        run_uncertainty(r.factory, r.run_id, [], draws=20, seed=1)
    assert e.value.field == "distributions" and "未给出任何分布" in e.value.zh


def test_linear_parameters_name_registered_components() -> None:
    from qingshan.indicators import registry

    reg = registry()
    for key, uses in LINEAR_PARAMETERS.items():
        for u in uses:
            spec = reg.get(u.indicator)
            assert u.component in {c.id for c in spec.components} or u.indicator == "flood_regulation", (key, u)
            for m in u.methods:
                spec.method(m)  # exists
            assert u.power in (1, -1)


# ---------------------------------------------------------------- parameter tables with distributions


def _table(tmp: Path, extra_header: str = "", row: str = "") -> Path:
    p = tmp / "params.csv"
    p.write_text("param_key,value,unit,source" + extra_header + "\n" + "nep_npp_ratio,0.5,1,s" + row + "\n"
                 "fpar_max,0.95,1,s" + ("," * extra_header.count(",")) + "\n", encoding="utf-8")
    return p


def test_parameter_table_without_distribution_columns_stays_valid(tmp_path: Path) -> None:
    t = ParameterTable.from_csv(_table(tmp_path))
    assert t.describe("nep_npp_ratio").distribution is None and t.get("nep_npp_ratio", "1") == 0.5


def test_parameter_table_distribution_columns(tmp_path: Path) -> None:
    p = _table(tmp_path, ",dist_kind,dist_a,dist_b,dist_c,dist_source", ",triangular,0.4,0.5,0.6,survey")
    t = ParameterTable.from_csv(p)
    d = t.describe("nep_npp_ratio").distribution
    assert d is not None and (d.key, d.kind, d.a, d.b, d.c, d.source, d.unit) == \
        ("param:nep_npp_ratio", "triangular", 0.4, 0.5, 0.6, "survey", "1")
    assert t.describe("fpar_max").distribution is None
    run = SimpleNamespace(config={"tables": {"parameters": [str(p)]}}, provenance={"input_hashes": {str(p): file_sha256(p)}})
    assert [x.key for x in table_distributions(run)] == ["param:nep_npp_ratio"]
    p.write_text(p.read_text(encoding="utf-8") + "lue_epsilon,0.389,g/MJ,s,,,,,\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        table_distributions(run)
    assert "changed since the run" in e.value.en and "已被修改" in e.value.zh


@pytest.mark.parametrize(("row", "field", "zh"), [
    (",,0.4,0.6,,survey", "dist_kind", "缺少 dist_kind"),
    (",uniform,0.6,0.4,,survey", "dist_b", "小于最小值"),
    (",uniform,0.4,0.6,,", "dist_source", "为空"),
    (",beta,0.4,0.6,,s", "dist_kind", "未知的分布类型"),
])
def test_bad_parameter_distribution_cells_name_the_column(tmp_path: Path, row: str, field: str, zh: str) -> None:
    p = _table(tmp_path, ",dist_kind,dist_a,dist_b,dist_c,dist_source", row)
    with pytest.raises((ConfigError, InputError)) as e:
        ParameterTable.from_csv(p)
    assert e.value.field == field and zh in e.value.zh and e.value.file == p




@pytest.mark.parametrize("function", ["soil_retention_parts", "soil_fertility_parts"])
def test_soil_parameters_scale_exactly_the_components_listed(function: str) -> None:
    """LINEAR_PARAMETERS against the soil formulas themselves: doubling a parameter multiplies its listed
    component by 2^power and leaves every other component unchanged."""
    from qingshan.core.params import ParameterTable, ParamSet
    from qingshan.quantities import soil

    table = ParameterTable.from_csv(Path(qingshan.__file__).parent / "data" / "tables" / "params_science.csv")
    parts = getattr(soil, function)
    indicator = "soil_retention" if function == "soil_retention_parts" else "soil_fertility"
    q = np.array([10.0, 250.0, 3.5])
    base = parts(q, ParamSet(table))
    checked = 0
    for key, uses in LINEAR_PARAMETERS.items():
        mine = {u.component: u.power for u in uses if u.indicator == indicator}
        if not mine:
            continue
        doubled = parts(q, ParamSet(table.with_overrides({key: 2 * table.describe(key).value})))
        for comp, arr in base.items():
            expected = arr * 2.0 ** mine.get(comp, 0)
            np.testing.assert_allclose(doubled[comp], expected, rtol=1e-14, err_msg=f"{key} → {comp}")
        checked += 1
    assert checked >= 4
