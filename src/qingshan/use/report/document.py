"""A small document model, rendered to DOCX (python-docx) and to PDF (HTML + CSS → WeasyPrint).

A report is built once as a list of blocks and rendered by both renderers, so the Word file an
accountant edits and the PDF that is filed carry the same chapters, tables and numbers.
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Doc", "Figure", "Heading", "KeyValues", "Para", "Table", "cjk_font_file", "to_docx", "to_html", "to_pdf"]


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 1


@dataclass(frozen=True)
class Para:
    text: str
    note: bool = False  # small print (sources, caveats)


@dataclass(frozen=True)
class Table:
    columns: list[str]
    rows: list[list[str]]
    caption: str = ""
    numeric: frozenset[int] = frozenset()  # right-aligned column indexes


@dataclass(frozen=True)
class KeyValues:
    items: list[tuple[str, str]]


@dataclass(frozen=True)
class Figure:
    png: bytes
    caption: str
    width_cm: float = 15.0


Block = Heading | Para | Table | KeyValues | Figure


@dataclass
class Doc:
    title: str
    subtitle: str
    lang: str
    blocks: list[Block] = field(default_factory=list)
    footer: str = ""

    def add(self, *blocks: Block) -> None:
        self.blocks.extend(blocks)


# ----------------------------------------------------------------------------- fonts
CJK_FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)
CJK_FAMILIES = ("Noto Sans CJK SC", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei")


def cjk_font_file() -> Path:
    """A font file with Chinese glyphs (Debian's fonts-noto-cjk or fonts-wqy-microhei), or an error
    saying how to install one: a report without it would print boxes instead of characters."""
    from qingshan.core.errors import ConfigError

    for p in CJK_FONT_CANDIDATES:
        if Path(p).is_file():
            return Path(p)
    raise ConfigError(
        "No Chinese font found for the report",
        "未找到用于报告的中文字体",
        field="fonts",
        fix="Install Debian's fonts-wqy-microhei or fonts-noto-cjk (`make test` and `make demo` do).",
        fix_zh="请安装 Debian 软件包 fonts-wqy-microhei 或 fonts-noto-cjk（`make test` 与 `make demo` 会自动安装）。",
    )


# ----------------------------------------------------------------------------- DOCX
def to_docx(doc: Doc, path: Path) -> Path:
    """Write ``doc`` as a Word document (headings as Word heading styles, tables with a header row)."""
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Cm, Pt

    d = Document()
    normal = d.styles["Normal"]
    normal.font.name = "Arial"
    normal.font.size = Pt(10.5)
    normal.element.rPr.rFonts.set(qn("w:eastAsia"), CJK_FAMILIES[1])  # 中文字体
    d.add_heading(doc.title, level=0)
    d.add_paragraph(doc.subtitle)
    for b in doc.blocks:
        if isinstance(b, Heading):
            d.add_heading(b.text, level=min(b.level, 4))
        elif isinstance(b, Para):
            p = d.add_paragraph(b.text)
            if b.note:
                for run in p.runs:
                    run.font.size = Pt(8.5)
        elif isinstance(b, KeyValues):
            t = d.add_table(rows=0, cols=2)
            t.style = "Light List"
            for k, v in b.items:
                cells = t.add_row().cells
                cells[0].text, cells[1].text = k, v
        elif isinstance(b, Table):
            if b.caption:
                d.add_paragraph(b.caption, style="Caption")
            t = d.add_table(rows=1, cols=len(b.columns))
            t.style = "Light Grid Accent 1"
            for i, c in enumerate(b.columns):
                t.rows[0].cells[i].text = c
            for row in b.rows:
                cells = t.add_row().cells
                for i, v in enumerate(row):
                    cells[i].text = v
                    if i in b.numeric:
                        cells[i].paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.RIGHT
        elif isinstance(b, Figure):
            import io

            d.add_picture(io.BytesIO(b.png), width=Cm(b.width_cm))
            d.add_paragraph(b.caption, style="Caption")
    if doc.footer:
        d.sections[0].footer.paragraphs[0].text = doc.footer
    path.parent.mkdir(parents=True, exist_ok=True)
    d.save(str(path))
    return path


# ----------------------------------------------------------------------------- HTML / PDF
CSS = """
@page { size: A4; margin: 18mm 16mm 20mm 16mm;
        @bottom-center { content: "%(footer)s  ·  " counter(page) " / " counter(pages); font-size: 8pt; color: #555;
                         font-family: %(families)s, sans-serif; } }
body { font-family: %(families)s, sans-serif; font-size: 10pt; line-height: 1.45; color: #111; }
h1.title { font-size: 20pt; margin: 0 0 4pt 0; color: #1b5e20; }
p.subtitle { color: #444; margin-top: 0; }
h1 { font-size: 14pt; color: #1b5e20; border-bottom: 1px solid #a5d6a7; margin-top: 16pt; }
h2 { font-size: 12pt; margin-top: 12pt; }
h3 { font-size: 10.5pt; }
table { border-collapse: collapse; width: 100%%; margin: 4pt 0 10pt 0; font-size: 8.5pt; }
th, td { border: 0.5pt solid #9e9e9e; padding: 2pt 4pt; vertical-align: top; }
th { background: #e8f5e9; }
td.num { text-align: right; white-space: nowrap; }
caption { caption-side: top; text-align: left; font-weight: bold; padding-bottom: 2pt; }
table.kv td:first-child { width: 32%%; background: #f5f5f5; }
p.note { font-size: 8pt; color: #555; }
figure { margin: 6pt 0 10pt 0; page-break-inside: avoid; }
figcaption { font-size: 8.5pt; color: #333; }
img { max-width: 100%%; }
"""


def to_html(doc: Doc) -> str:
    """``doc`` as a self-contained HTML page (figures inlined as data: URLs)."""
    e = html.escape
    parts = [f'<h1 class="title">{e(doc.title)}</h1>', f'<p class="subtitle">{e(doc.subtitle)}</p>']
    for b in doc.blocks:
        if isinstance(b, Heading):
            lv = min(b.level, 3)
            parts.append(f"<h{lv}>{e(b.text)}</h{lv}>")
        elif isinstance(b, Para):
            parts.append(f'<p class="note">{e(b.text)}</p>' if b.note else f"<p>{e(b.text)}</p>")
        elif isinstance(b, KeyValues):
            rows = "".join(f"<tr><td>{e(k)}</td><td>{e(v)}</td></tr>" for k, v in b.items)
            parts.append(f'<table class="kv">{rows}</table>')
        elif isinstance(b, Table):
            head = "".join(f"<th>{e(c)}</th>" for c in b.columns)
            body = "".join("<tr>" + "".join(f'<td class="num">{e(v)}</td>' if i in b.numeric else f"<td>{e(v)}</td>"
                                            for i, v in enumerate(r)) + "</tr>" for r in b.rows)
            cap = f"<caption>{e(b.caption)}</caption>" if b.caption else ""
            parts.append(f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif isinstance(b, Figure):
            src = "data:image/png;base64," + base64.b64encode(b.png).decode()
            parts.append(f'<figure><img src="{src}" style="width:{b.width_cm}cm"/><figcaption>{e(b.caption)}</figcaption></figure>')
    families = ", ".join(f'"{f}"' for f in CJK_FAMILIES)
    css = CSS % {"footer": doc.footer.replace('"', "'"), "families": families}
    lang = "zh-CN" if doc.lang == "zh" else "en"
    return (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{e(doc.title)}</title>'
            f"<style>{css}</style></head><body>{''.join(parts)}</body></html>")


def to_pdf(doc: Doc, path: Path) -> Path:
    """Write ``doc`` as PDF with WeasyPrint (fonts embedded; Chinese set in a CJK font)."""
    from weasyprint import HTML

    cjk_font_file()  # fail with the fix rather than print boxes
    path.parent.mkdir(parents=True, exist_ok=True)
    HTML(string=to_html(doc)).write_pdf(str(path))
    return path
