"""Registry-wide invariants: every indicator spec is complete, consistent and documented."""

from __future__ import annotations

import json
from importlib import resources

import numpy as np
import pytest

from qingshan.core.grid import Grid
from qingshan.core.params import LandcoverTable, ParameterTable, ParamSet
from qingshan.core.units import parse_unit, ureg
from qingshan.core.variables import VARIABLES
from qingshan.docs import indicator_markdown, write_indicator_pages
from qingshan.indicators import registry
from qingshan.kernels.water import water_balance_depth
from qingshan.quantities.water import water_conservation_balance

TABLES = resources.files("qingshan.data") / "tables"
SPECS = list(registry())
TABLE_INPUTS = {"statistics", "products"}


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
def test_spec_serialises_and_has_sources(spec):
    data = json.loads(json.dumps(spec.model_dump(mode="json")))
    assert data["id"] == spec.id
    assert spec.name_zh and spec.name_en and spec.source
    assert spec.method(None).id == spec.default_method
    for m in spec.methods:
        assert m.source and m.formula


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
def test_method_inputs_are_canonical_and_functions_load(spec):
    for m in spec.methods:
        for name in (*m.inputs, *m.optional_inputs):
            assert name in (VARIABLES if m.kind == "raster" else TABLE_INPUTS), f"{spec.id}.{m.id}: unknown input {name}"
        assert callable(m.load())
        for p in m.params:
            parse_unit(p.unit)


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
def test_component_units_compose_with_price_to_currency(spec):
    for c in spec.components:
        if c.id == "*":
            continue
        q = parse_unit(c.unit)
        if c.price_unit is None:
            continue
        product = q * parse_unit(c.price_unit)
        assert product.dimensionality == ureg.CNY.dimensionality, f"{spec.id}.{c.id}: {c.unit} × {c.price_unit}"


def test_default_tables_cover_every_declared_parameter():
    scalars = ParameterTable.from_csv(str(TABLES / "params_science.csv"))
    landcover = LandcoverTable.from_csv(str(TABLES / "landcover_modis_igbp.csv"))
    for spec in SPECS:
        for m in spec.methods:
            for p in m.params:
                if p.per_class:
                    assert p.key in landcover.table.columns, f"{spec.id}.{m.id}: land-cover column {p.key} missing"
                else:
                    scalars.get(p.key, p.unit)


def test_every_profile_loads_and_names_known_indicators():
    reg = registry()
    assert {"jiangxi-db36-2021", "national-2022-trial", "rcees"} <= set(reg.profile_ids())
    for pid in reg.profile_ids():
        prof = reg.profile(pid)
        assert prof.indicator_ids and prof.status


def test_docs_pages_are_generated_for_every_indicator(tmp_path):
    files = write_indicator_pages(tmp_path)
    assert len(files) == len(SPECS) + 1
    page = indicator_markdown(registry().get("water_conservation"))
    assert "水源涵养" in page and "runoff_coef_rcees_2017" in page and "m3" in page


def test_aliases_resolve():
    assert registry().get("固定二氧化碳").id == "carbon_sequestration"
    assert registry().get("休闲游憩").id == "recreation"


def test_water_balance_kernel_hand_computed():
    # P = 1600 mm, α = 4.65 % → R = 74.4 mm; ET = 800 mm → Q = 1600 − 74.4 − 800 = 725.6 mm
    got = water_balance_depth(np.array([1600.0]), np.array([800.0]), np.array([0.0465]))
    np.testing.assert_allclose(got, [725.6])


def test_water_conservation_per_cell_volume_and_exclusions(tmp_path):
    (tmp_path / "lc.csv").write_text(
        "code,name_zh,name_en,ecosystem,runoff_coef_rcees_2017\n1,林,forest,forest,4.65\n2,田,crop,cropland,\n",
        encoding="utf-8",
    )
    (tmp_path / "lc.meta.csv").write_text("column,unit,source\nrunoff_coef_rcees_2017,percent,test\n", encoding="utf-8")
    params = ParamSet(ParameterTable(params={}), LandcoverTable.from_csv(tmp_path / "lc.csv"), {})
    from affine import Affine

    grid = Grid.from_crs("EPSG:32650", Affine(100, 0, 0, 0, -100, 0), 1, 2)  # two 1-ha cells
    out = water_conservation_balance(
        {"precip": np.array([[1600.0, 1600.0]]), "aet": np.array([[800.0, 800.0]]), "lulc": np.array([[1.0, 2.0]])},
        params,
        grid,
    )["water_conservation"]
    # 725.6 mm × 10 000 m² = 7256 m³ on forest; cropland is excluded (RCEES) → 0
    np.testing.assert_allclose(out, [[7256.0, 0.0]])


def test_specs_are_checked_when_made_as_the_pydantic_models_were():
    """Specs are frozen dataclasses (no pydantic at start-up) that still check what they are given."""
    import dataclasses

    from qingshan.core.spec import Certainty, MethodSpec, ParamRef

    m = MethodSpec(id="m", kind="raster", function="x:y", inputs=["precip"], params=[ParamRef(key="k", unit="1")],
                   formula="f", source="s", certainty="V")
    assert m.inputs == ("precip",) and isinstance(m.params, tuple) and m.certainty is Certainty.VERIFIED
    assert m.model_dump(mode="json")["params"] == [{"key": "k", "unit": "1", "per_class": False, "description": ""}]
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.id = "other"  # type: ignore[misc]
    with pytest.raises(ValueError, match=r"MethodSpec\.kind"):
        MethodSpec(id="m", kind="vector", function="x:y", formula="f", source="s", certainty="V")
    with pytest.raises(ValueError, match="'nope' is not a valid Certainty"):
        MethodSpec(id="m", kind="raster", function="x:y", formula="f", source="s", certainty="nope")
    with pytest.raises(TypeError, match="unexpected keyword"):
        ParamRef(key="k", unit="1", colour="red")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"ParamRef\.per_class"):
        ParamRef(key="k", unit="1", per_class="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"MethodSpec\.inputs"):
        MethodSpec(id="m", kind="raster", function="x:y", inputs=("precip", 3), formula="f", source="s", certainty="V")
