"""Statistics rows that no indicator reads are named in the QC report (``engine.statistics_items``).

Found by trying a misspelt item: the Jiangxi example with one county's ``rice`` typed ``Rice`` accounted without a
word, and that county's rice (3.24 万t × 2 400 元/t) was missing from its GEP. A row with the item
``=HYPERLINK(...)`` passed the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from qingshan.core.notices import collecting
from qingshan.engine import run as R
from qingshan.engine.config import load_config
from qingshan.engine.statistics_items import _family, check_statistics_items

STATS = "approx_statistics_2019.csv"
COUNTY = "360111"  # has rice in the example (3.2441 万t)


def _with_rows(example_dir: Path, dst: Path, edit: Any) -> Path:
    table = pd.read_csv(example_dir / STATS, dtype=str, keep_default_na=False)
    edit(table)
    table.to_csv(dst, index=False, encoding="utf-8")
    return dst


def _misspelt(table: pd.DataFrame) -> None:
    table.loc[(table["region_code"] == COUNTY) & (table["item"] == "rice"), "item"] = "Rice"


def test_a_misspelt_item_is_a_warning_naming_rows_and_the_item_meant(tmp_path: Path, write_config: Any,
                                                                     example_dir: Path) -> None:
    """The whole run: the county's rice is missing from the results (as before), and now the QC report says why,
    with status 'warnings' a signer must look at."""
    stats = _with_rows(example_dir, tmp_path / STATS, _misspelt)
    out = R.account(load_config(write_config(tmp_path, tables={"statistics": str(stats)})))
    qc = out.provenance["qc"]
    found = [n for n in qc["notices"] if n["code"] == "statistics_item_unknown"]
    assert len(found) == 1 and qc["status"] == "warnings", found
    n = found[0]
    assert "'Rice'" in n["en"] and "Did you mean 'rice'" in n["en"] and "'rice'" in n["zh"]
    assert n["severity"] == "warning" and n["field"] == "item" and Path(n["file"]).name == STATS
    table = pd.read_csv(stats, dtype=str)
    assert f"(rows {int(table.index[table['item'] == 'Rice'][0]) + 2})" in n["en"]  # the CSV line (header = 1)
    rows = out.results[(out.results["region_code"] == COUNTY) & (out.results["component"] == "rice")]
    assert rows.empty  # what the notice is about: the county's rice is not in the results


def test_every_item_of_the_example_is_read(tmp_path: Path, write_config: Any) -> None:
    cfg = load_config(write_config(tmp_path))
    p = R.plan(cfg)
    with collecting() as notes:
        R.load_tables(cfg, p)
    assert not [n for n in notes if n.code.startswith("statistics_item")], notes


def _check(tmp_path: Path, write_config: Any, rows: list[tuple[str, str]]) -> list[Any]:
    cfg = load_config(write_config(tmp_path))
    p = R.plan(cfg)
    tables = R.load_tables(cfg, p)
    stats = pd.DataFrame({"region_code": [r for r, _ in rows], "year": 2019, "item": [i for _, i in rows],
                          "value": 1.0, "unit": "t", "source": "test"}, index=range(2, 2 + len(rows)))
    with collecting() as notes:
        check_statistics_items(stats, tables.products, p.items, p.profile, "stats.csv")
    return notes


def test_lines_case_and_spaces(tmp_path: Path, write_config: Any) -> None:
    notes = _check(tmp_path, write_config, [("360102", "rice"), ("360103", " RICE "), ("360104", "rice")]
                   + [(f"3601{k:02d}", "ricee") for k in range(7)])
    by_item = {n.en.split("'")[1]: n for n in notes}
    assert set(by_item) == {" RICE ", "ricee"}
    assert "rows 3)" in by_item[" RICE "].en and "Did you mean 'rice'" in by_item[" RICE "].en
    assert "rows 5, 6, 7, 8, 9 … (7 rows)" in by_item["ricee"].en and "共 7 行" in by_item["ricee"].zh


def test_items_of_other_profiles_are_an_info_and_unknown_ones_a_warning(tmp_path: Path, write_config: Any) -> None:
    """``non_use_value`` is read by the catalogue (non-use value, CVM) but not by the example's profile: an info
    (a provincial table may serve several profiles). An item nothing in the catalogue reads is a warning."""
    notes = _check(tmp_path, write_config, [("360102", "non_use_value"), ("360102", "=HYPERLINK(\"http://x\")"),
                                            ("360102", "gdp"), ("360102", "population")])
    assert {(n.code, n.severity) for n in notes} == {("statistics_item_unread", "info"),
                                                     ("statistics_item_unknown", "warning")}
    unread = next(n for n in notes if n.code == "statistics_item_unread")
    assert "non_use_value" in unread.en and "jiangxi" in unread.en


@pytest.mark.parametrize(("family", "item", "read"), [
    ("tcm.<zone>.visits", "tcm.lushan.visits", True),
    ("tcm.<zone>.visits", "tcm.lushan.visit", False),
    ("tcm.<zone>.visits", "tcm.a.b.visits", False),
    ("tcm.<zone>.visits", "xtcm.a.visits", False),
    ("biomass_carbon_stock.<ecosystem>", "biomass_carbon_stock.forest", True),
    ("biomass_carbon_stock.<ecosystem>", "biomass_carbon_stock.forest.bamboo", True),  # second-level types roll up
    ("biomass_carbon_stock.<ecosystem>", "biomass_carbon_stock.", False),
    ("biomass_carbon_stock.<ecosystem>", "biomass_carbon_stock_forest", False),
])
def test_families(family: str, item: str, read: bool) -> None:
    assert bool(_family(family).match(item)) is read
