"""The GEP accounting report: PDF rendered to PNG and read back (pdftoppm, pdftotext, pdffonts), DOCX headings,
the CLI and the API.

Chinese must render with real glyphs: the PDF embeds a CJK font, and every character of the text is in that
font's character map (a character outside it would print as a missing-glyph box).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from qingshan.api.app import create_app
from qingshan.api.settings import Settings
from qingshan.cli import app
from qingshan.platform import jobs
from qingshan.platform.audit import Actor
from qingshan.use.report.document import cjk_font_file
from qingshan.use.report.gep_report import write_gep_report

CHAPTERS_ZH = ["一、区域概况", "二、核算范围、指标与方法", "三、数据来源", "四、实物量核算", "五、定价", "六、价值量核算",
               "七、质量控制", "八、核算结果汇总", "九、年际比较", "附录：核算溯源"]

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="needs poppler-utils (make test installs it)")


def _text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def test_chinese_pdf_has_the_chapters_in_order_and_the_numbers(use_store: SimpleNamespace, tmp_path: Path) -> None:
    pdf = write_gep_report(use_store.factory, use_store.run, tmp_path / "r.pdf", lang="zh")
    text = _text(pdf)
    positions = [text.find(h) for h in CHAPTERS_ZH]
    assert -1 not in positions, [h for h, p in zip(CHAPTERS_ZH, positions, strict=True) if p < 0]
    assert positions == sorted(positions)
    assert "测试省2019年生态产品总值（GEP）核算报告" in text
    assert "11.40" in text  # GEP 2019 in 亿元
    assert "+26.67 %" in text  # growth 9.00 → 11.40 at current prices (chapter 9)
    assert "+22.22 %" in text  # at comparable prices
    assert "recreation: 无数据 no data" in text  # QC: the exclusion and its reason
    assert "测试提示" in text
    assert "precip_2019.tif" in text
    assert "/srv/secret" not in text  # file names, never server paths
    assert "1" * 64 in text  # content hash in the annex


def test_pdf_embeds_a_cjk_font_covering_every_character(use_store: SimpleNamespace, tmp_path: Path) -> None:
    from fontTools.ttLib import TTCollection

    pdf = write_gep_report(use_store.factory, use_store.run, tmp_path / "r.pdf", lang="zh")
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    lines = fonts.splitlines()[2:]
    assert any("WenQuanYi" in ln or "NotoSansCJK" in ln for ln in lines), fonts
    assert all(" yes " in ln for ln in lines), fonts  # every font embedded
    cmap = set(TTCollection(str(cjk_font_file())).fonts[0].getBestCmap())
    han = {ch for ch in _text(pdf) if ord(ch) > 0x2E80}
    assert han
    assert not {ch for ch in han if ord(ch) not in cmap}


def test_rendered_pages_have_ink_and_a_map(use_store: SimpleNamespace, tmp_path: Path) -> None:
    from PIL import Image

    pdf = write_gep_report(use_store.factory, use_store.run, tmp_path / "r.pdf", lang="zh")
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 3
    ink = [float((np.asarray(Image.open(p).convert("L")) < 200).mean()) for p in pages]
    assert min(ink) > 0.002  # no blank page
    greens = [int(((lambda a: (a[..., 1] > a[..., 0] + 30) & (a[..., 1] > a[..., 2] + 30))(
        np.asarray(Image.open(p).convert("RGB")).astype(int))).sum()) for p in pages]
    assert max(greens) > 500  # the choropleth (YlGn) and the bar chart are drawn


def test_english_docx_lists_its_headings(use_store: SimpleNamespace, tmp_path: Path) -> None:
    from docx import Document

    path = write_gep_report(use_store.factory, use_store.run, tmp_path / "r.docx", lang="en")
    d = Document(str(path))
    headings = [p.text for p in d.paragraphs if p.style is not None and p.style.name.startswith("Heading")]
    assert headings[:3] == ["1. Overview of the region", "2. Scope, indicators and methods", "3. Data sources"]
    assert "9. Comparison with earlier years" in headings
    assert len(d.inline_shapes) >= 2  # chart and map


def test_cli_report_and_bad_arguments(use_store: SimpleNamespace, tmp_path: Path) -> None:
    out = tmp_path / "cli.pdf"
    r = CliRunner().invoke(app, ["report", use_store.run, "-o", str(out), "--region", "A", "--store", use_store.url])
    assert r.exit_code == 0, r.output
    assert "甲县2019年" in _text(out)
    bad = CliRunner().invoke(app, ["report", use_store.run, "-o", str(tmp_path / "x.odt"), "--store", use_store.url])
    assert bad.exit_code == 2
    assert "未知的报告格式" in bad.output
    bad = CliRunner().invoke(app, ["report", use_store.run, "-o", str(out), "--region", "ZZ", "--store", use_store.url])
    assert bad.exit_code == 2
    assert "ZZ" in bad.output


def test_api_serves_the_report_of_a_published_run_only(use_store: SimpleNamespace) -> None:
    with TestClient(create_app(Settings(store_url=use_store.url))) as client:
        hidden = client.get(f"/api/runs/{use_store.run}/report")
        assert hidden.status_code == 404  # not published: the public does not see it
        for action in ("approve", "publish"):
            jobs.set_publication(use_store.factory, Actor("fixture", "accountant"), use_store.run, action)
        r = client.get(f"/api/runs/{use_store.run}/report", params={"lang": "en", "format": "docx"})
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
        assert r.content[:2] == b"PK"
        pdf = client.get(f"/api/runs/{use_store.run}/report", params={"region": "B"})
        assert pdf.content[:5] == b"%PDF-"
        assert client.get(f"/api/runs/{use_store.run}/report", params={"year": 1999}).status_code == 404
