"""Every raster method, end to end on a synthetic grid with the default tables: inputs in their
canonical units → per-cell quantities in the component's unit → value in CNY with the default price.

This is the "units check over the whole chain" of every indicator, run for each method the
registry declares (new methods are picked up automatically).
"""

from __future__ import annotations

from importlib import resources

import numpy as np
import pytest
from affine import Affine

from qingshan.core.grid import Grid
from qingshan.core.params import LandcoverTable, ParameterTable, ParamSet
from qingshan.core.units import conversion_factor
from qingshan.core.variables import VARIABLES
from qingshan.engine.valuation import component_spec
from qingshan.indicators import registry
from qingshan.valuation.prices import Deflator, PriceTable
from qingshan.valuation.value import value_in_cny

TABLES = resources.files("qingshan.data") / "tables"
RASTER_METHODS = [(s, m) for s in registry() for m in s.methods if m.kind == "raster"]

# Plausible values per canonical variable (inside the valid range, in canonical units).
TYPICAL = {
    "precip": (1400.0, 1900.0), "aet": (600.0, 900.0), "pet": (900.0, 1200.0), "dem": (20.0, 900.0),
    "ndvi": (0.2, 0.9), "fvc": (0.2, 0.9), "npp": (300.0, 900.0), "rain_erosivity": (4000.0, 6000.0),
    "soil_erodibility": (0.02, 0.04), "sand": (20.0, 50.0), "silt": (20.0, 40.0), "clay": (10.0, 30.0),
    "soil_organic_carbon": (0.5, 3.0), "root_depth": (500.0, 2000.0), "pawc": (0.08, 0.2),
    "hot_days": (60.0, 100.0), "water_evaporation": (800.0, 1100.0), "air_temperature": (15.0, 20.0),
    "storm_precip": (200.0, 600.0), "solar_radiation": (4000.0, 4800.0), "wind_factor": (1.0, 20.0),
    "negative_ions": (500.0, 3000.0), "stand_height": (5.0, 20.0),
}


@pytest.fixture(scope="module")
def params() -> ParamSet:
    scalars = ParameterTable.from_csv(str(TABLES / "params_science.csv"))
    landcover = LandcoverTable.from_csv(str(TABLES / "landcover_modis_igbp.csv"))
    # Columns shipped empty on purpose (the EPP table is unverified) get a synthetic value here, so
    # the chain is exercised; the empty-column error itself is tested with the climate method.
    table = landcover.table.copy()
    for column in ("transpiration_heat",):
        if column in table.columns:
            table[column] = table[column].replace("", "1000")
    landcover = LandcoverTable(table=table, units=landcover.units, sources=landcover.sources, path=landcover.path)
    options = dict(registry().profile("jiangxi-db36-2021").options)
    return ParamSet(scalars, landcover, options)


@pytest.fixture(scope="module")
def prices() -> PriceTable:
    deflator = Deflator.from_csv(str(TABLES / "deflator_cpi_china.csv"))
    return PriceTable.from_csv(str(TABLES / "prices_default.csv"), deflator=deflator)


def synthetic_inputs(names: set[str], shape: tuple[int, int], rng: np.random.Generator) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    lulc_codes = np.array([2, 5, 8, 9, 10, 12, 13, 0], dtype=float)  # forest, shrub, grass, crop, urban, water
    out["lulc"] = lulc_codes[rng.integers(0, len(lulc_codes), shape)]
    for name in names - {"lulc"}:
        if name == "dem":  # a tilted plane with noise, so routing has somewhere to go
            rows, cols = np.indices(shape)
            out[name] = 500.0 - 8.0 * rows - 3.0 * cols + rng.uniform(0, 2, shape)
            continue
        lo, hi = TYPICAL.get(name, (VARIABLES[name].valid_min, VARIABLES[name].valid_max))
        out[name] = rng.uniform(lo, hi, shape)
    return out


@pytest.mark.parametrize(("spec", "method"), RASTER_METHODS, ids=lambda x: getattr(x, "id", ""))
def test_raster_method_units_chain_to_currency(spec, method, params, prices):
    rng = np.random.default_rng(7)
    grid = Grid.from_crs("EPSG:32650", Affine(90, 0, 400000, 0, -90, 3300000), 12, 10)
    inputs = synthetic_inputs({*method.inputs, *method.optional_inputs}, grid.shape, rng)
    layers = method.load()(inputs=inputs, params=params, grid=grid)
    assert layers, f"{spec.id}.{method.id} returned no component"
    total_value = 0.0
    for comp_id, arr in layers.items():
        comp = component_spec(spec, comp_id)
        assert arr.shape == grid.shape
        finite = arr[np.isfinite(arr)]
        assert finite.size > 0
        assert (finite >= 0).all(), f"{spec.id}.{comp_id} has negative quantities"
        if comp.price_key is None:
            continue
        price = prices.resolve(comp.price_key, 2019, "360000")
        total_value += value_in_cny(float(finite.sum()), comp.unit, price.value, price.unit)
    assert total_value >= 0


def test_per_cell_unit_algebra_examples():
    # mm over 1 m² is 0.001 m³; t/hm² over 1 m² is 1e-4 t; g C/m² over 1 m² is 44/12 · 1e-6 tCO2
    assert conversion_factor("mm*m**2", "m3") == pytest.approx(1e-3)
    assert conversion_factor("t/hm2*m**2", "t") == pytest.approx(1e-4)
    assert conversion_factor("gC/m**2*m**2", "tCO2") == pytest.approx(44 / 12 * 1e-6)
