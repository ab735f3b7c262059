"""The parcel valuation report (VEP, for a loan file): CLI and API on the example run, read back from the PDF."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from shapely.geometry import box, mapping
from typer.testing import CliRunner

from qingshan.cli import app
from qingshan.store.artifacts import find_data_dir
from qingshan.store.db import open_store
from qingshan.use.parcel import value_run_parcel
from qingshan.use.report.parcel_report import parcel_sha256

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler-utils (make test installs it)")


def _parcel(example: SimpleNamespace) -> object:
    county = example.counties.iloc[0].geometry
    c = county.representative_point()
    return box(c.x - 0.05, c.y - 0.05, c.x + 0.05, c.y + 0.05).intersection(county)


def _text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def test_cli_parcel_report_states_the_values_and_how_to_reproduce(example: SimpleNamespace, tmp_path: Path) -> None:
    geom = _parcel(example)
    src = tmp_path / "parcel.geojson"
    src.write_text(json.dumps({"type": "Feature", "properties": {}, "geometry": mapping(geom)}), encoding="utf-8")
    out = tmp_path / "parcel.pdf"
    r = CliRunner().invoke(app, ["parcel", example.run_id, str(src), "--report", str(out), "--store", example.store_url])
    assert r.exit_code == 0, r.output
    text = _text(out)
    valuation, run, _ = value_run_parcel(open_store(example.store_url), example.run_id, geom,
                                         data_dir=find_data_dir(example.store_url))
    assert f"{valuation.total('value') / 1e4:,.2f}" in text
    assert f"{valuation.total('value', basis='raster') / 1e4:,.2f}" in text
    for words in ("一、评估结论", "二、年生态服务流量", "三、方法与精度", "四、可复现信息", "精确", "分摊"):
        assert words in text
    assert example.run_id in text
    assert str(run.content_hash) in text
    assert parcel_sha256(geom) in text
    # rendered: every page has ink, the map page shows the parcel in red over the green counties
    import numpy as np
    from PIL import Image

    subprocess.run(["pdftoppm", "-r", "40", "-png", str(out), str(tmp_path / "page")], check=True)
    pages = [np.asarray(Image.open(p).convert("RGB")).astype(int) for p in sorted(tmp_path.glob("page-*.png"))]
    assert pages and min(float((pg.sum(axis=2) < 600).mean()) for pg in pages) > 0.002
    red = max(int(((pg[..., 0] > pg[..., 1] + 60) & (pg[..., 0] > pg[..., 2] + 60)).sum()) for pg in pages)
    assert red > 50


def test_api_parcel_report_pdf_in_english(client: TestClient, example: SimpleNamespace) -> None:
    geom = _parcel(example)
    r = client.post(f"/api/runs/{example.run_id}/parcel/report", params={"lang": "en"}, json=mapping(geom))
    assert r.status_code == 200, r.text[:500]
    assert r.headers["content-type"] == "application/pdf"
    assert r.content[:5] == b"%PDF-"
    bad = client.post(f"/api/runs/{example.run_id}/parcel/report", json={"type": "Point", "coordinates": [116, 28]})
    assert bad.status_code == 422
    assert "message_zh" in bad.json()
