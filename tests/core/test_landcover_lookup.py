"""Per-pixel land-cover coefficients through a dense look-up table (issue 11: speed).

``LandcoverTable.lookup`` / ``ParamSet.by_class`` and ``ecosystem_index`` used a binary search
(``np.searchsorted``) over every cell; small non-negative integer codes now index a dense table.
These tests hold the new path to the old formulation (kept here as the reference): same values,
same fill for nodata (negative or NaN codes), same bilingual errors for unknown codes and empty
cells.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qingshan.core.errors import InputError, MissingParameterError
from qingshan.core.params import LandcoverTable, ParameterTable, ParamSet

ROWS = [(1, "林", "Forest", "forest", "0.003"), (2, "草", "Grass", "grassland", "0.05"),
        (5, "水", "Water", "wetland", ""), (12, "田", "Crop", "cropland", "0.3"),
        (40, "城", "Urban", "urban", "0.9")]


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> LandcoverTable:
    folder: Path = tmp_path_factory.mktemp("lc")
    lines = ["code,name_zh,name_en,ecosystem,usle_c"] + [",".join(map(str, r)) for r in ROWS]
    (folder / "lc.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "lc.meta.csv").write_text("column,unit,source\nusle_c,1,test\n", encoding="utf-8")
    return LandcoverTable.from_csv(folder / "lc.csv")


def _reference(table: LandcoverTable, codes: np.ndarray, values: np.ndarray, fill: float) -> np.ndarray:
    """The former formulation: binary search of every cell's code in the sorted table codes."""
    lut_codes = np.array(table.codes, dtype=np.int64)
    valid = codes >= 0
    order = np.argsort(lut_codes)
    idx = np.searchsorted(lut_codes[order], np.where(valid, codes, lut_codes.min()))
    return np.where(valid, values[order][np.clip(idx, 0, len(order) - 1)], fill)


def _values(table: LandcoverTable) -> np.ndarray:
    return np.array([float(v) if v else np.nan for *_, v in ROWS])


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.int16])
def test_same_values_as_binary_search(table: LandcoverTable, dtype: type) -> None:
    rng = np.random.default_rng(1)
    known = np.array([1, 2, 12, 40])  # code 5 has an empty cell: only allowed when absent
    codes = known[rng.integers(0, 4, (60, 70))].astype(dtype)
    if np.issubdtype(dtype, np.signedinteger):
        codes[rng.random(codes.shape) < 0.2] = -1
        codes[0, :3] = -9999
    got = ParamSet(ParameterTable(params={}), table).by_class(codes, "usle_c", "1")
    want = _reference(table, codes.astype(np.int64), _values(table), np.nan)
    assert got.dtype == np.float64 and got.shape == codes.shape
    np.testing.assert_array_equal(got, want)


def test_float_codes_with_nan_are_nodata(table: LandcoverTable) -> None:
    codes = np.array([[1.0, np.nan, 12.0], [40.0, -1.0, 2.0]])
    got = table.lookup(codes, "usle_c", "1", fill=-7.0)
    np.testing.assert_array_equal(got, [[0.003, -7.0, 0.3], [0.9, -7.0, 0.05]])
    np.testing.assert_array_equal(got, _reference(table, codes, _values(table), -7.0))


def test_all_nodata_and_empty(table: LandcoverTable) -> None:
    assert np.isnan(table.lookup(np.full((2, 3), -1), "usle_c", "1")).all()
    assert table.lookup(np.zeros((0, 4), dtype=np.int64), "usle_c", "1").shape == (0, 4)


@pytest.mark.parametrize("codes", [np.array([[1, 3]]), np.array([[1.0, 3.0]]), np.array([[1, 2**30]]),
                                   np.array([[2.5, 1.0]])])
def test_unknown_code_is_the_same_bilingual_error(table: LandcoverTable, codes: np.ndarray) -> None:
    with pytest.raises(InputError) as err:
        table.lookup(codes, "usle_c", "1")
    unknown = codes[codes != 1].tolist()
    assert f"Land-cover code(s) {unknown}" in str(err.value.en)
    assert "不在土地覆被参数表中" in str(err.value.zh)
    assert err.value.field == "code"


def test_empty_cell_of_a_present_code_is_an_error(table: LandcoverTable) -> None:
    with pytest.raises(MissingParameterError) as err:
        table.lookup(np.array([[1, 5]]), "usle_c", "1")
    assert "has no value for 'usle_c'" in str(err.value.en) and "缺少" in str(err.value.zh)


def test_ecosystem_index_same_as_binary_search(table: LandcoverTable) -> None:
    from qingshan.core.params import ECOSYSTEMS, top_ecosystem

    codes = np.array([[1, 2, -1, 40], [12, 5, 5, -3]])
    eco = np.array([ECOSYSTEMS.index(top_ecosystem(r[3])) for r in ROWS], dtype=np.int16)
    got = table.ecosystem_index(codes)
    assert got.dtype == np.int16
    np.testing.assert_array_equal(got, _reference(table, codes, eco, -1))
    with pytest.raises(InputError):
        table.ecosystem_index(np.array([[7]]))
