"""Accounts and form helpers shared by the platform tests (imported by name: unique basename)."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import load_workbook

from qingshan.platform.forms import build_template, get_group

PASSWORD = "correct horse battery"
# username → (role, regions, forms). The submitter reports products for Nanchang city (3601xx).
USERS: dict[str, tuple[str, list[str], list[str]]] = {
    "admin": ("admin", [], []),
    "accountant": ("accountant", [], []),
    "reviewer": ("reviewer", [], []),
    "submitter": ("submitter", ["360100"], ["products", "rasters"]),
    "viewer": ("viewer", [], []),
}
ROLES = tuple(USERS)



def fill_products(rows: list[list[Any]], year: int = 2019) -> bytes:
    """The products template of ``year`` with ``rows`` appended from row 3 (columns A–I:
    region_code, region_name, year, item, value, unit, source, price, price_unit)."""
    wb = load_workbook(io.BytesIO(build_template(get_group("products"), year, [("360102", "东湖区")])))
    ws = wb["data"]
    for i, row in enumerate(rows, start=3):
        for j, v in enumerate(row, start=1):
            ws.cell(row=i, column=j, value=v)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
