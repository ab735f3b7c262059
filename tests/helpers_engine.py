"""A whole-grid numpy reference for the engine's tests (an oracle, not a second engine).

``reference_leaf(config, plan)`` computes the leaf rows the way the numpy engine did before the
block-wise engine became the only one (0.x ``engine/run.py::_compute_all``): every input read whole
(``load_inputs``), one coverage matrix for the whole grid, ``ZoneWeights.totals_by_ecosystem``,
table methods, emission caps and profile rules. The engine must give the same rows whatever its
block size or scheduler.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from qingshan.aggregate.zonal import zone_weights
from qingshan.core.params import ECOSYSTEMS
from qingshan.engine import run as R
from qingshan.engine.caps import apply_emission_caps, cap_rules
from qingshan.engine.config import RunConfig
from qingshan.engine.rules import apply_profile_rules

KEYS = ["region_code", "year", "indicator", "component", "ecosystem"]


def reference_leaf(cfg: RunConfig, p: R.Plan) -> pd.DataFrame:
    """Leaf rows of ``p`` computed on whole arrays (see module docstring)."""
    tables = R.load_tables(cfg, p)
    regions = R.load_regions(cfg)
    frames = []
    for year in cfg.run.years:
        grid, inputs, _ = R.load_inputs(cfg, p, year, tables)
        weights = zone_weights(regions, grid)
        lulc = inputs.get("lulc")
        eco = (tables.params.landcover.ecosystem_index(np.where(np.isfinite(lulc), lulc, -1).astype(np.int64))
               if lulc is not None and tables.params.landcover is not None
               else np.full(grid.shape, ECOSYSTEMS.index("other"), dtype=np.int16))
        for spec, method in p.items:
            if method.kind == "raster":
                layers = R.compute_raster(spec, method, inputs, tables.params, grid)
                for comp, arr in layers.items():
                    sums = weights.totals_by_ecosystem(arr, eco)
                    df = pd.DataFrame(sums, columns=list(ECOSYSTEMS))
                    df["region_code"] = list(weights.codes)
                    long = df.melt(id_vars="region_code", var_name="ecosystem", value_name="quantity")
                    long = long[long["quantity"] != 0]
                    frames.append(long.assign(year=year, indicator=spec.id, component=comp,
                                              unit=spec.component(comp).unit))
            else:
                tbl = {"statistics": tables.statistics, "products": tables.products}
                rows = method.load()(tables=tbl, params=tables.params, regions=regions, year=year, indicator=spec.id)
                frames.append(rows.assign(year=year, indicator=spec.id))
    leaf = R.leaf_frame(frames)
    rules = cap_rules(p.items)
    if rules:
        leaf, _ = apply_emission_caps(leaf, tables.statistics, regions, rules,
                                      missing=str(tables.params.option("emission_cap_missing", "error")))
    leaf = apply_profile_rules(leaf, p.profile.rules, tables.statistics, regions)
    return leaf[R.LEAF_COLUMNS].reset_index(drop=True)


def assert_same_rows(expected: pd.DataFrame, got: pd.DataFrame, rtol: float = 1e-9, **_: Any) -> None:
    """Same (region, year, indicator, component, ecosystem) keys, quantities equal to ``rtol``."""
    m = expected.merge(got, on=KEYS, how="outer", suffixes=("_np", "_bw"), indicator=True)
    assert (m["_merge"] == "both").all(), m[m["_merge"] != "both"].head()
    assert (m["unit_np"] == m["unit_bw"]).all()
    np.testing.assert_allclose(m["quantity_bw"], m["quantity_np"], rtol=rtol, atol=0)
