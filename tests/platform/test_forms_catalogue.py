"""The reporting forms ask for exactly what the catalogue reads (no drift between forms and methods)."""

from __future__ import annotations

from qingshan.engine.caps import cap_rules
from qingshan.indicators import registry
from qingshan.platform.forms import form_groups


def test_emission_form_items_are_the_cap_items_of_the_catalogue():
    wanted = set(cap_rules(list(registry())).values())
    offered = {i.item for i in form_groups()["emissions"].items}
    assert wanted  # air and water purification are capped
    assert offered == wanted


def test_every_form_item_names_a_real_indicator_component():
    reg = registry()
    for group in form_groups().values():
        for item in group.items:
            if item.indicator is None:
                continue
            spec = reg.get(item.indicator)
            if item.component is not None and all(c.id != "*" for c in spec.components):
                spec.component(item.component)


# ----------------------------------------------------------------------------- issue 7 item 9: forms accept what methods read
def _offered() -> set[str]:
    return {i.item for g in form_groups().values() for i in g.items}


def test_every_statistics_item_any_method_reads_is_submittable():
    """Registry-wide: each item a table method declares is on some form group (or excluded with a reason)."""
    from qingshan.platform.forms import NOT_ON_FORMS_ITEMS, read_items

    read = read_items(registry())
    assert {"tourism_revenue", "tourism_spending_per_visit", "ecotourism_visits", "output_value.agriculture"} <= read
    missing = sorted(i for i in read if i not in _offered() and i not in NOT_ON_FORMS_ITEMS)
    assert not missing, f"items read by a method but on no form: {missing}"
    assert all(reason for reason in NOT_ON_FORMS_ITEMS.values())


def test_context_items_gdp_and_population_are_submittable():
    from qingshan.api.routers.parcels import GDP_ITEMS

    assert GDP_ITEMS[0] in _offered()  # the API's GEP/GDP reads item 'gdp'
    assert "population" in _offered()


def test_declared_items_match_what_the_methods_read(monkeypatch):
    """No drift: calling each table method records the items it asks for; all are declared."""
    import importlib

    import pandas as pd

    import qingshan.quantities.statistics as st
    from qingshan.core.params import ParameterTable, ParamSet

    asked: list[str] = []
    real = st.items_to_components

    def spy(stats, regions, year, mapping):  # type: ignore[no-untyped-def]
        asked.extend(mapping)
        return real(None, regions, year, mapping)

    for mod in ("qingshan.quantities.statistics", "qingshan.quantities.cultural", "qingshan.quantities.coastal",
                "qingshan.quantities.carbon"):
        monkeypatch.setattr(importlib.import_module(mod), "items_to_components", spy)
    stats = pd.DataFrame([{"region_code": "1", "year": 2020, "item": "x", "value": 1.0, "unit": "t", "source": ""}])
    params = ParamSet(ParameterTable(params={}), None, {})
    checked = 0
    for spec in registry():
        for m in spec.methods:
            if m.kind != "table" or "products" in m.inputs or not m.statistics_items:
                continue
            asked.clear()
            m.load()(tables={"statistics": stats}, params=params, regions=None, year=2020, indicator=spec.id)
            families = [d.split("<")[0] for d in m.statistics_items if "<" in d]
            undeclared = [a for a in asked if a not in m.statistics_items and not any(a.startswith(f) for f in families)]
            assert not undeclared, (spec.id, m.id, undeclared)
            checked += 1
    assert checked >= 8


def test_tourism_and_gdp_rows_parse_from_their_forms():
    import io

    from openpyxl import load_workbook

    from qingshan.platform.forms import build_template, get_group, parse_form

    def filled(group: str, rows: list[list[object]]) -> bytes:
        wb = load_workbook(io.BytesIO(build_template(get_group(group), 2019, [("360102", "东湖区")])))
        for i, row in enumerate(rows, start=3):
            for j, v in enumerate(row, start=1):
                wb["data"].cell(row=i, column=j, value=v)
        buf = io.BytesIO()
        wb.save(buf)
        return buf.getvalue()

    tour = parse_form(filled("tourism", [["360102", None, 2019, "tourism_revenue", 12.5, "亿元"],
                                         ["360102", None, 2019, "tourism_spending_per_visit", 800, "元/人次"]]),
                      get_group("tourism"), 2019, known_regions={"360102": "东湖区"})
    assert tour.ok, tour.errors
    assert {r["item"] for r in tour.statistics} == {"tourism_revenue", "tourism_spending_per_visit"}
    soc = parse_form(filled("socioeconomic", [["360102", None, 2019, "gdp", 1000, "亿元"],
                                              ["360102", None, 2019, "population", 55.3, "万人"]]),
                     get_group("socioeconomic"), 2019, known_regions={"360102": "东湖区"})
    assert soc.ok, soc.errors
    assert {r["item"] for r in soc.statistics} == {"gdp", "population"}
