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
