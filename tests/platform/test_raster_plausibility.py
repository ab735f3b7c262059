"""Raster uploads with a unit mistake are rejected: the version carries the bilingual error and cannot be submitted.

Issue 7: precipitation in metres and float precipitation uploaded as land cover were accepted by
the platform upload (the run then gave GEP −17 % with no warning).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from platform_support import PASSWORD
from sqlalchemy.orm import Session, sessionmaker

from qingshan.platform import auth, submissions
from qingshan.platform.errors import StateError

JIANGXI = Affine(0.05, 0, 115.0, 0, -0.05, 29.0)
PRECIP_MM = np.linspace(1300.0, 2000.0, 400).reshape(20, 20)  # a Jiangxi-like year [mm]


def _tif(path: Path, values: np.ndarray, *, crs: str = "EPSG:4326",
         transform: Affine = JIANGXI) -> bytes:
    with rasterio.open(path, "w", driver="GTiff", height=values.shape[0], width=values.shape[1], count=1,
                       dtype="float32", crs=crs, transform=transform, nodata=-9999.0) as ds:
        ds.write(values.astype(np.float32), 1)
    return path.read_bytes()


@pytest.mark.parametrize(
    ("case", "variable", "values", "crs_transform", "field", "words"),
    [
        ("precip_m.tif", "precip", PRECIP_MM / 1000, None, "precip", "metres instead of millimetres"),
        ("precip_as_lulc.tif", "lulc", PRECIP_MM + 0.37, None, "lulc", "not integer-valued"),
        ("utm.tif", "precip", PRECIP_MM, Affine(5000.0, 0, 300000.0, 0, -5000.0, 3380000.0), "crs", "area of use"),
    ],
)
def test_upload_with_a_unit_mistake_is_rejected(factory: sessionmaker[Session], tmp_path: Path, case: str,
                                                variable: str, values: np.ndarray, crs_transform: Affine | None,
                                                field: str, words: str) -> None:
    sub, _ = auth.login(factory, "submitter", PASSWORD)
    content = _tif(tmp_path / case, values, **({"transform": crs_transform} if crs_transform else {}))
    d = submissions.upload_raster(factory, sub, variable, 2019, case, content)
    version = d["versions"][-1]
    assert version["n_errors"] == 1
    with pytest.raises(StateError, match="validation error"):
        submissions.submit(factory, sub, d["id"], version["version"])
    (err,) = version["errors"]
    assert err["field"] == field and err["file"] == case
    assert case in err["message_en"] and words in err["message_en"]
    assert err["message_zh"] and err["fix"] and err["fix_zh"]


def test_correct_upload_passes_with_its_statistics(factory: sessionmaker[Session], tmp_path: Path) -> None:
    sub, _ = auth.login(factory, "submitter", PASSWORD)
    d = submissions.upload_raster(factory, sub, "precip", 2019, "p.tif", _tif(tmp_path / "p.tif", PRECIP_MM))
    version = d["versions"][-1]
    assert version["n_errors"] == 0
