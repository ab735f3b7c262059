"""Statistics rows: strict numbers, duplicates, plausibility bounds per item; GBK statistics read.

Errors go through ``account`` (or ``qingshan account``) on a modified copy of the example's statistics
table: the message names the file, the row, the column or region, and the fix; nothing is recorded.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from qingshan.core.errors import InputError
from qingshan.core.notices import collecting
from qingshan.engine.config import load_config
from qingshan.engine.run import account, check_statistics, load_regions, load_tables, plan
from qingshan.quantities.statistics_bounds import StatisticsBounds

STATS = "approx_statistics_2019.csv"


def _lines(example_dir: Path) -> list[str]:
    return (example_dir / STATS).read_text(encoding="utf-8-sig").splitlines()


def _write(dst: Path, lines: list[str]) -> Path:
    dst.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return dst


def _set_value(example_dir: Path, dst: Path, line: int, value: str, unit: str | None = None) -> Path:
    """Copy of the statistics with the value (and unit) of CSV line ``line`` (header = 1) replaced."""
    lines = _lines(example_dir)
    cells = lines[line - 1].split(",", 6)
    cells[3] = value
    if unit is not None:
        cells[4] = unit
    lines[line - 1] = ",".join(cells)
    return _write(dst, lines)


def _assert_no_trace(directory: Path) -> None:
    from qingshan.store import repo
    from qingshan.store.db import open_store

    factory = open_store(f"sqlite:///{directory / 'store.sqlite'}")
    assert repo.list_runs(factory, status="succeeded") == []
    assert not (directory / "out").exists()


def _rejected(tmp_path: Path, write_config, bad: Path) -> InputError:  # type: ignore[no-untyped-def]
    cfg = write_config(tmp_path, tables={"statistics": str(bad)})
    with pytest.raises(InputError) as info:
        account(load_config(cfg))
    exc = info.value
    assert Path(str(exc.file)).name == bad.name
    assert exc.zh and exc.fix and exc.fix_zh
    _assert_no_trace(tmp_path)
    return exc


@pytest.mark.parametrize(("cell", "words"), [
    ("abc", "not a number"), ("inf", "inf/NaN"), ("NaN", "inf/NaN"), ("", "empty"), ('"1,234"', "thousands separator"),
])
def test_bad_number_rejected_naming_row_and_column(tmp_path: Path, write_config, example_dir: Path,  # type: ignore[no-untyped-def]
                                                   cell: str, words: str) -> None:
    bad = _set_value(example_dir, tmp_path / "stats_bad.csv", 3, cell)
    exc = _rejected(tmp_path, write_config, bad)
    assert exc.field == "value"
    assert "Row 3" in exc.en and words in exc.en
    assert "第 3 行" in exc.zh


def test_cli_statistics_value_abc_exit_2(tmp_path: Path, write_config, example_dir: Path) -> None:  # type: ignore[no-untyped-def]
    """issue 8: a statistics value 'abc' gave a 5xx/traceback."""
    from qingshan.cli import app

    bad = _set_value(example_dir, tmp_path / "stats_abc.csv", 4, "abc")
    result = CliRunner().invoke(app, ["account", str(write_config(tmp_path, tables={"statistics": str(bad)}))])
    assert result.exit_code == 2, result.output
    out = " ".join(result.output.split())
    assert "Traceback" not in out and "stats_abc.csv" in out and "'abc'" in out and "Row 4" in out and "修正方法" in out
    _assert_no_trace(tmp_path)


def test_bad_year_rejected(tmp_path: Path, write_config, example_dir: Path) -> None:  # type: ignore[no-untyped-def]
    lines = _lines(example_dir)
    lines[5] = lines[5].replace(",2019,", ",2019.5,", 1)
    exc = _rejected(tmp_path, write_config, _write(tmp_path / "stats_year.csv", lines))
    assert exc.field == "year" and "Row 6" in exc.en


def test_duplicate_row_rejected_naming_both_rows(tmp_path: Path, write_config, example_dir: Path) -> None:  # type: ignore[no-untyped-def]
    """issue 7: 'a duplicated statistics row … accepted'."""
    lines = _lines(example_dir)
    dup = lines[2].replace("0.0,万t", "0.5,万t")  # same region, year and item, another value
    bad = _write(tmp_path / "stats_dup.csv", [*lines, dup])
    exc = _rejected(tmp_path, write_config, bad)
    n = len(lines) + 1
    assert f"Rows 3 and {n}" in exc.en
    assert lines[2].split(",")[0] in exc.en and "rice" in exc.en
    assert f"第 3 行与第 {n} 行重复" in exc.zh


def test_duplicate_with_ecosystem_column_only_when_same_ecosystem(tmp_path: Path) -> None:
    import pandas as pd

    from qingshan.quantities.statistics import check_statistics_rows

    df = pd.DataFrame({"region_code": ["1", "1"], "year": ["2019", "2019"], "item": ["x", "x"], "value": ["1", "2"],
                       "unit": ["t", "t"], "source": ["s", "s"], "ecosystem": ["forest", "grassland"]})
    assert len(check_statistics_rows(df, "s.csv")) == 2
    df.loc[1, "ecosystem"] = "forest"
    with pytest.raises(InputError, match="Rows 2 and 3"):
        check_statistics_rows(df, "s.csv")


def _rice_line(example_dir: Path, code: str) -> int:
    return next(i for i, ln in enumerate(_lines(example_dir), start=1) if ln.startswith(f"{code},2019,rice,"))


def test_rice_in_wrong_unit_is_out_of_bounds(tmp_path: Path, write_config, example_dir: Path) -> None:  # type: ignore[no-untyped-def]
    """360121 南昌县 reports 184.67 万t of rice; here its tonnes (1 846 669) are typed into the 万t row."""
    line = _rice_line(example_dir, "360121")
    bad = _set_value(example_dir, tmp_path / "stats_rice.csv", line, "1846669")
    exc = _rejected(tmp_path, write_config, bad)
    assert f"Row {line}" in exc.en and "360121" in exc.en and "南昌县" in exc.en and "rice" in exc.en
    assert "per km² of region" in exc.en and "above the plausible 1500" in exc.en
    assert "statistics_bounds_accept" in exc.fix


def test_negative_value_is_out_of_bounds(tmp_path: Path, write_config, example_dir: Path) -> None:  # type: ignore[no-untyped-def]
    line = _rice_line(example_dir, "360112")
    exc = _rejected(tmp_path, write_config, _set_value(example_dir, tmp_path / "stats_neg.csv", line, "-3"))
    assert "360112" in exc.en and "below the plausible 0" in exc.en


def _check(tmp_path: Path, write_config, bad: Path, **options: object) -> list:  # type: ignore[no-untyped-def,type-arg]
    cfg = load_config(write_config(tmp_path, tables={"statistics": str(bad)}, options=options))
    tables, regions = load_tables(cfg, plan(cfg)), load_regions(cfg)
    with collecting() as notes:
        check_statistics(tables, regions)
    return [n for n in notes if n.code == "statistics_bounds"]


def test_accepted_out_of_bound_value_is_a_notice(tmp_path: Path, write_config, example_dir: Path) -> None:  # type: ignore[no-untyped-def]
    line = _rice_line(example_dir, "360121")
    bad = _set_value(example_dir, tmp_path / "stats_rice.csv", line, "1846669")
    notes = _check(tmp_path, write_config, bad, statistics_bounds_accept=["360121:rice"])
    mine = [n for n in notes if n.region == "360121"]
    assert len(mine) == 1 and f"Row {line}" in mine[0].en and mine[0].year == 2019


def test_example_lake_is_a_warning_not_an_error(tmp_path: Path, write_config, example_dir: Path) -> None:  # type: ignore[no-untyped-def]
    """The example books all of Poyang Lake (4497 km²) to 360428 (2230 km²): a 'warning' bound → notice."""
    notes = _check(tmp_path, write_config, example_dir / STATS)
    assert [n.region for n in notes] == ["360428"]
    assert "lake_area" in notes[0].en and "都昌县" in notes[0].en


def test_per_capita_bound_uses_population(tmp_path: Path, write_config, example_dir: Path) -> None:  # type: ignore[no-untyped-def]
    lines = [ln for ln in _lines(example_dir) if not ln.startswith("360102,2019,population,")]  # the example's own row
    extra = ["360102,2019,population,50,万人,test", "360102,2019,water_use.domestic,9,亿m3,test"]
    notes = _check(tmp_path, write_config, _write(tmp_path / "stats_pop.csv", [*lines, *extra]))
    # 9e8 m3 / 5e5 persons = 1800 m3 per person > 365 (warning); the per-km² bound (3e6 m3/km²) is exceeded too
    per_person = [n for n in notes if "per person" in n.en]
    assert len(per_person) == 1 and "1800" in per_person[0].en and per_person[0].region == "360102"
    without_population = _check(tmp_path / "b", write_config, _write(tmp_path / "stats_nopop.csv", [*lines, extra[1]]))
    assert not [n for n in without_population if "per person" in n.en]


def test_bounds_table_is_data_with_sources() -> None:
    b = StatisticsBounds.default()
    assert b.bounds and all(x.source.strip() for x in b.bounds)
    assert [x.item for x in b.matching("value_added.agriculture")] == ["value_added.*"]


def test_gbk_statistics_through_load_tables(tmp_path: Path, write_config, example_dir: Path) -> None:  # type: ignore[no-untyped-def]
    gbk = tmp_path / "stats_gbk.csv"
    gbk.write_bytes((example_dir / STATS).read_text(encoding="utf-8-sig").encode("gb18030"))
    cfg = load_config(write_config(tmp_path, tables={"statistics": str(gbk)}))
    with collecting() as notes:
        tables = load_tables(cfg, plan(cfg))
    assert tables.statistics is not None and "万t" in set(tables.statistics["unit"])
    assert any(n.code == "table_encoding" and n.file == str(gbk) for n in notes)


def _landcover_notes(tmp_path: Path, write_config, stats: Path) -> list:  # type: ignore[no-untyped-def,type-arg]
    import numpy as np

    from qingshan.aggregate.zonal import zone_weights
    from qingshan.engine.run import check_statistics_landcover, load_inputs

    cfg = load_config(write_config(tmp_path, tables={"statistics": str(stats)}))
    p = plan(cfg)
    tables, regions = load_tables(cfg, p), load_regions(cfg)
    grid, arrays, _ = load_inputs(cfg, p, 2019, tables)
    lulc = arrays["lulc"]
    assert tables.params.landcover is not None
    eco = tables.params.landcover.ecosystem_index(np.where(np.isfinite(lulc), lulc, -1).astype(np.int64))
    with collecting() as notes:
        check_statistics_landcover(tables, regions, zone_weights(regions, grid), eco, grid, 2019)
    return [n for n in notes if n.code == "statistics_bounds"]


def test_rice_per_hectare_of_cropland_from_land_cover(tmp_path: Path, write_config, example_dir: Path) -> None:  # type: ignore[no-untyped-def]
    assert _landcover_notes(tmp_path / "a", write_config, example_dir / STATS) == []  # example: ≤ 13.7 t/hm²
    line = _rice_line(example_dir, "360121")
    bad = _set_value(example_dir, tmp_path / "stats_rice2.csv", line, "400")  # 400 万t on 南昌县's cropland
    notes = _landcover_notes(tmp_path / "b", write_config, bad)
    assert len(notes) == 1 and notes[0].region == "360121"
    assert "per hm² of cropland" in notes[0].en and f"Row {line}" in notes[0].en and "农田" in notes[0].zh


def test_engine_sums_cropland_block_by_block_for_the_per_hectare_bound(tmp_path: Path, write_config,  # type: ignore[no-untyped-def]
                                                                      example_dir: Path) -> None:
    """The engine sums the cropland area of each county block by block (32-cell blocks, no whole-grid
    matrix) and gives the warning of the whole-grid check above."""
    from qingshan.core.spec import MethodSpec
    from qingshan.engine.blockwise import compute_blockwise
    from qingshan.engine.run import Plan

    def pick(items: tuple, test) -> list:  # type: ignore[no-untyped-def,type-arg]
        return [(s, m) for s, m in items if test(m)][:1]

    line = _rice_line(example_dir, "360121")
    bad = _set_value(example_dir, tmp_path / "stats_rice3.csv", line, "400")
    cfg = load_config(write_config(tmp_path / "c", tables={"statistics": str(bad)}))
    p0 = plan(cfg)
    lulc_method = pick(p0.items, lambda m: m.blockwise and "lulc" in m.inputs)
    table_method = pick(p0.items, lambda m: isinstance(m, MethodSpec) and m.kind == "table")
    p = Plan(p0.profile, tuple(lulc_method + table_method))
    tables, regions = load_tables(cfg, p), load_regions(cfg)
    with collecting() as notes:
        _, _, facts = compute_blockwise(cfg, p, tables, regions, block_size=32)
    found = [n for n in notes if n.code == "statistics_bounds"]
    assert facts["blocks"] == 20
    assert len(found) == 1 and found[0].region == "360121" and "per hm² of cropland" in found[0].en
