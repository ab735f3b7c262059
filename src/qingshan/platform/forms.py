"""The data reporting system (统计报表制度): one XLSX form per data group, built from the catalogue.

Groups
------
products    产品与价格   product output (the product table's items of the catalogue's provisioning
                         indicators) and, optionally, the local price of each product.
water       水资源       water use by sector (water_supply) and hydropower generation (eco_energy).
emissions   污染物排放   pollutant emissions (the cap items of air and water purification: SO2, NOx, dust, COD, NH3-N, TP).
reservoirs  水库湖泊     reservoir storage, lake and marsh area (flood_regulation).
tourism     旅游         ecotourism visits, spending and revenue (recreation) and reported non-use values.
socioeconomic 社会经济   GDP and resident population (context of GEP: GEP/GDP, GEP per capita).
rasters     栅格上传     raster inputs of the catalogue's raster methods, uploaded as GeoTIFF.

A form offers the statistics items the catalogue's table methods declare they read
(``MethodSpec.statistics_items``; :data:`STATISTICS_ITEMS` gives their names, units and group) and
the context items (indicator ``None``); the emission items are the ``cap_item`` of the
catalogue's use-bounded components (air and water purification). A test checks that every item any
method reads is on some form or listed in :data:`NOT_ON_FORMS_ITEMS` with the reason.
A filled form is parsed back into rows of the statistics table (``region_code, year, item,
value, unit, source``) and, for products, of the price table; every problem is reported per
cell (sheet, row, column) in Chinese and English.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from qingshan.core.errors import InputError, UnitsError
from qingshan.core.limits import Limits, check_form_rows, check_zip, clip, current_limits
from qingshan.core.units import conversion_factor, parse_unit
from qingshan.core.variables import VARIABLES
from qingshan.indicators import Registry, registry

__all__ = [
    "DATA_SHEET",
    "GROUP_IDS",
    "Column",
    "FormGroup",
    "FormItem",
    "ParsedForm",
    "build_template",
    "form_groups",
    "get_group",
    "parse_form",
]

DATA_SHEET = "data"
README_SHEET = "README"
LISTS_SHEET = "lists"
HEADER_ROWS = 2  # row 1: Chinese header, row 2: English key; data from row 3
GROUP_IDS = ("products", "water", "emissions", "reservoirs", "tourism", "socioeconomic", "rasters")


@dataclass(frozen=True)
class FormItem:
    """One reported item: a statistics ``item`` key, its unit and the indicator it feeds."""

    item: str
    name_zh: str
    name_en: str
    unit: str
    indicator: str | None
    component: str | None


@dataclass(frozen=True)
class Column:
    """One column of the data sheet."""

    key: str
    name_zh: str
    required: bool
    width: int = 14


@dataclass(frozen=True)
class FormGroup:
    """A data group and its form: items (table groups) or raster variables (``rasters``)."""

    id: str
    name_zh: str
    name_en: str
    description_zh: str
    description_en: str
    items: tuple[FormItem, ...] = ()
    variables: tuple[str, ...] = ()
    with_prices: bool = False
    columns: tuple[Column, ...] = field(default=())

    @property
    def is_raster(self) -> bool:
        """True for the raster upload group (no table form to fill)."""
        return self.id == "rasters"

    def item(self, key: str) -> FormItem | None:
        """The item called ``key`` or None."""
        return next((i for i in self.items if i.item == key), None)


# Statistics items read by the catalogue's table methods (qingshan.quantities.statistics):
# item → (group, name_zh, name_en, unit, indicator, component). A test checks each against the
# method that reads it, so this table cannot drift from the catalogue.
STATISTICS_ITEMS: dict[str, tuple[str, str, str, str, str | None, str | None]] = {
    "water_use.domestic": ("water", "生活用水量", "Domestic water use", "m3", "water_supply", "domestic"),
    "water_use.industry": ("water", "工业用水量", "Industrial water use", "m3", "water_supply", "industry"),
    "water_use.agriculture": ("water", "农业用水量", "Agricultural water use", "m3", "water_supply", "agriculture"),
    "water_use.ecological": ("water", "生态环境用水量", "Ecological water use", "m3", "water_supply", "ecological"),
    "water_use.raw_water": ("water", "原水供给量", "Raw water supplied", "m3", "water_supply", "raw_water"),
    "hydropower_generation": ("water", "水力发电量", "Hydropower generation", "kWh", "eco_energy", "hydropower"),
    "coastline_protected": ("water", "受保护海岸线长度", "Protected coastline length", "km", "coastal_protection",
                            "coastline_protected"),
    "reservoir_total_storage": ("reservoirs", "水库总库容", "Reservoir total storage", "m3", "flood_regulation", "reservoirs"),
    "reservoir_flood_storage": ("reservoirs", "水库防洪库容", "Reservoir flood-control storage", "m3", "flood_regulation", "reservoirs"),
    "lake_area": ("reservoirs", "湖泊面积", "Lake area", "km2", "flood_regulation", "lakes"),
    "marsh_area": ("reservoirs", "沼泽面积", "Marsh area", "m2", "flood_regulation", "marshes"),
    "vegetation_flood_storage": ("reservoirs", "植被暴雨蓄水量", "Vegetation storm-water storage", "m3", "flood_regulation", "vegetation"),
    "ecotourism_visits": ("tourism", "生态旅游人次", "Ecotourism visits", "visit", "recreation", "visits"),
    # recreation method visits_spending combines these (visits × spending, or revenue): no one-to-one component
    "tourism_spending_per_visit": ("tourism", "人均旅游消费", "Tourism spending per visit", "CNY/visit", "recreation", None),
    "tourism_revenue": ("tourism", "旅游收入", "Tourism revenue", "CNY", "recreation", None),
    # landscape items are combined by the method (area × premium): no one-to-one component
    "landscape.beneficiary_area": ("tourism", "景观受益面积", "Landscape beneficiary area", "m2", "landscape_value", None),
    "landscape.premium": ("tourism", "景观溢价", "Landscape price premium", "CNY/m2", "landscape_value", None),
    "non_use_value": ("tourism", "非使用价值（研究报告值）", "Non-use value (reported)", "CNY", "non_use_value", "non_use"),
    # provisioning method output_value: 总产值 (option provisioning_convention = gross_output) or 增加值 (value_added)
    **{f"output_value.{sector}": ("products", f"{zh}总产值", f"{en} gross output value", "CNY", ind, "output_value")
       for sector, zh, en, ind in (("agriculture", "农业", "Agriculture", "agricultural_products"),
                                   ("forestry", "林业", "Forestry", "forestry_products"),
                                   ("livestock", "牧业", "Livestock", "livestock_products"),
                                   ("fishery", "渔业", "Fishery", "fishery_products"))},
    **{f"value_added.{sector}": ("products", f"{zh}增加值", f"{en} value added", "CNY", ind, None)
       for sector, zh, en, ind in (("agriculture", "农业", "Agriculture", "agricultural_products"),
                                   ("forestry", "林业", "Forestry", "forestry_products"),
                                   ("livestock", "牧业", "Livestock", "livestock_products"),
                                   ("fishery", "渔业", "Fishery", "fishery_products"))},
    # profile rule out_of_region_deduction (区域外扣减, GB/T 46869): share of the quantity originating outside the region
    **{f"out_of_region_share.{ind}": (group, f"{zh}区域外来源比例", f"{en}: share from outside the region", "1", ind, None)
       for ind, group, zh, en in (("agricultural_products", "products", "农业产品", "Agricultural products"),
                                  ("forestry_products", "products", "林业产品", "Forestry products"),
                                  ("livestock_products", "products", "畜牧业产品", "Livestock products"),
                                  ("fishery_products", "products", "渔业产品", "Fishery products"),
                                  ("water_supply", "water", "水资源（过境水）", "Water supply (transit water)"),
                                  ("eco_energy", "water", "生态能源", "Eco-energy"))},
    # context items (no indicator): read by the API/dashboard (GEP/GDP, GEP per capita)
    "gdp": ("socioeconomic", "地区生产总值", "Gross domestic product (GDP)", "CNY", None, None),
    "population": ("socioeconomic", "常住人口", "Resident population", "person", None, None),
}

# Statistics items (families) that methods read but no form offers, with the reason.
NOT_ON_FORMS_ITEMS = {
    "biomass_carbon_stock.<ecosystem>": "biomass carbon stock inventories by ecosystem (森林资源清查), two years per run",
    "tcm.<zone>.visits": "zonal travel-cost survey: origin zones are named by the survey, not a fixed list",
    "tcm.<zone>.travel_time": "zonal travel-cost survey (origin zones named by the survey)",
    "tcm.<zone>.wage": "zonal travel-cost survey (origin zones named by the survey)",
    "tcm.<zone>.cost": "zonal travel-cost survey (origin zones named by the survey)",
}

# Table-method indicators whose statistics have no form yet (they are read from the base tables).
NOT_ON_FORMS = {
    "carbon_sequestration": "biomass carbon stock inventories by ecosystem (森林资源清查), two years per run",
}

GROUP_NAMES = {
    "products": ("产品与价格", "Products and prices",
                 "农林牧渔产品产量及当地价格（用于物质产品核算）。",
                 "Output of farm, forest, livestock and fishery products and their local prices (provisioning)."),
    "water": ("水资源", "Water", "分行业用水量与水力发电量（水资源公报）。",
              "Water use by sector and hydropower generation (water resources bulletin)."),
    "emissions": ("污染物排放", "Pollutant emissions",
                  "水、大气污染物排放量（环境统计）；作为水质净化、空气净化的上限（实物量 = min(净化能力, 排放量)）。",
                  "Water and air pollutant emissions (environmental statistics); they bound water and air "
                  "purification (quantity = min(capacity, emissions))."),
    "reservoirs": ("水库湖泊", "Reservoirs and lakes", "水库库容、湖泊与沼泽面积（洪水调蓄）。",
                   "Reservoir storage, lake and marsh area (flood regulation)."),
    "tourism": ("旅游", "Tourism", "生态旅游人次、人均消费与旅游收入，及研究报告的非使用价值（文化服务）。",
                "Ecotourism visits, spending per visit and revenue, and reported non-use values (cultural services)."),
    "socioeconomic": ("社会经济", "Socio-economic context", "地区生产总值与常住人口（用于 GEP/GDP 与人均 GEP）。",
                      "GDP and resident population (for GEP/GDP and GEP per capita)."),
    "rasters": ("栅格数据上传", "Rasters by upload", "栅格输入（GeoTIFF，需有坐标系，数值在合理范围内）。",
                "Raster inputs (GeoTIFF with a CRS, values in the plausible range)."),
}

# Units offered in the unit drop-down, by the item's canonical unit (others may be typed).
SUGGESTED_UNITS = {
    "t": ("t", "万t", "kg"),
    "m3": ("m3", "万m3", "亿m3"),
    "kWh": ("kWh", "万kWh", "亿kWh"),
    "km2": ("km2", "hm2", "亩"),
    "m2": ("m2", "hm2", "km2", "亩"),
    "visit": ("人次", "万人次"),
    "CNY": ("元", "万元", "亿元"),
    "head": ("head", "万头"),
    "km": ("km",),
    "CNY/m2": ("元/m2",),
    "CNY/visit": ("元/人次",),
    "person": ("人", "万人"),
    "1": ("1", "percent"),
}

BASE_COLUMNS = (
    Column("region_code", "区划代码", True, 12),
    Column("region_name", "区划名称", False, 14),
    Column("year", "年份", True, 8),
    Column("item", "项目", True, 26),
    Column("value", "数值", True, 14),
    Column("unit", "单位", True, 10),
    Column("source", "数据来源", False, 30),
)
PRICE_COLUMNS = (Column("price", "单价", False, 12), Column("price_unit", "价格单位", False, 12))


# ----------------------------------------------------------------------------- groups from the catalogue
def _products_table() -> pd.DataFrame:
    from importlib import resources

    return pd.read_csv(Path(str(resources.files("qingshan.data") / "tables" / "products_default.csv")), dtype=str)


def _table_indicators(reg: Registry, needs: str) -> set[str]:
    return {s.id for s in reg for m in s.methods if m.kind == "table" and needs in m.inputs}


def _product_items(reg: Registry, products: pd.DataFrame) -> tuple[FormItem, ...]:
    wanted = _table_indicators(reg, "products")
    return tuple(FormItem(r.item, r.name_zh, r.name_en, r.unit, r.indicator, "*")
                 for r in products.itertuples() if r.indicator in wanted)


def read_items(reg: Registry) -> set[str]:
    """Every statistics item (or ``<x>`` family) the table methods of ``reg`` declare they read, and the
    items the rules of the built-in profiles read (e.g. ``out_of_region_share.<indicator>``)."""
    from qingshan.indicators.profile_rules import rule_items

    methods = {i for s in reg for m in s.methods if m.kind == "table" for i in m.statistics_items}
    return methods | {i for pid in reg.profile_ids() for i in rule_items(reg.profile(pid).rules)}


def _statistics_items(reg: Registry, group: str) -> tuple[FormItem, ...]:
    if group == "emissions":
        return _emission_items(reg)
    read = read_items(reg)
    return tuple(FormItem(key, zh, en, unit, ind, comp)
                 for key, (g, zh, en, unit, ind, comp) in STATISTICS_ITEMS.items()
                 if g == group and (ind is None or key in read))


def _emission_items(reg: Registry) -> tuple[FormItem, ...]:
    """The emission items that bound use-limited services: each component's ``cap_item`` (e.g.
    ``emissions.so2`` for air purification / SO2), so what departments report is what the caps read."""
    out: dict[str, FormItem] = {}
    for spec in reg:
        for comp in spec.components:
            if comp.cap_item and comp.cap_item not in out:
                out[comp.cap_item] = FormItem(comp.cap_item, f"{comp.name_zh}排放量", f"{comp.name_en} emissions",
                                              comp.unit, spec.id, comp.id)
    return tuple(out.values())


def _raster_variables(reg: Registry) -> tuple[str, ...]:
    names = {i for s in reg for m in s.methods if m.kind == "raster" for i in (*m.inputs, *m.optional_inputs)}
    return tuple(v for v in VARIABLES if v in names)


def _groups(reg: Registry) -> dict[str, FormGroup]:
    products = _products_table()
    out = {}
    for gid in GROUP_IDS:
        zh, en, dzh, den = GROUP_NAMES[gid]
        if gid == "rasters":
            out[gid] = FormGroup(gid, zh, en, dzh, den, variables=_raster_variables(reg))
            continue
        items = _statistics_items(reg, gid)
        if gid == "products":
            items = _product_items(reg, products) + items
        prices = gid == "products"
        out[gid] = FormGroup(gid, zh, en, dzh, den, items=items, with_prices=prices,
                             columns=BASE_COLUMNS + (PRICE_COLUMNS if prices else ()))
    return out


@lru_cache(maxsize=1)
def _builtin_groups() -> dict[str, FormGroup]:
    return _groups(registry())


def form_groups(reg: Registry | None = None) -> dict[str, FormGroup]:
    """The data groups (:data:`GROUP_IDS`), with their items taken from the catalogue ``reg`` (default: built-in)."""
    return _builtin_groups() if reg is None else _groups(reg)


def get_group(group_id: str, reg: Registry | None = None) -> FormGroup:
    """One data group, or a bilingual :class:`~qingshan.platform.errors.NotFoundError`."""
    from qingshan.platform.errors import NotFoundError

    groups = form_groups(reg)
    if group_id not in groups:
        raise NotFoundError(
            f"Unknown form group '{group_id}'",
            f"未知的报表组 '{group_id}'",
            field="group",
            fix=f"Use one of: {', '.join(groups)}.",
            fix_zh=f"可用报表组：{', '.join(f'{g.id}（{g.name_zh}）' for g in groups.values())}。",
        )
    return groups[group_id]


# ----------------------------------------------------------------------------- templates
_BOLD = Font(bold=True)
_HEAD_FILL = PatternFill("solid", fgColor="DDEBF7")
_REQ_FILL = PatternFill("solid", fgColor="FCE4D6")


def build_template(group: FormGroup, year: int, regions: Sequence[tuple[str, str]] = (),
                   max_rows: int = 2000) -> bytes:
    """The XLSX form of ``group`` for ``year``: README, data sheet and drop-down lists.

    Parameters
    ----------
    group : the data group.
    year : the reporting year (written in README and checked on upload).
    regions : (code, name) pairs offered in the region drop-down (all codes of the boundaries).
    max_rows : data rows covered by the drop-down validations.
    """
    wb = Workbook()
    readme = wb.active
    assert readme is not None
    readme.title = README_SHEET
    _write_readme(readme, group, year)
    if group.is_raster:
        _write_raster_sheet(wb.create_sheet("rasters"), group)
    else:
        data = wb.create_sheet(DATA_SHEET)
        lists = wb.create_sheet(LISTS_SHEET)
        _write_lists(lists, group, regions)
        _write_data_sheet(data, group, year, len(regions), max_rows)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _write_readme(ws: Any, group: FormGroup, year: int) -> None:
    rows: list[tuple[Any, ...]] = [
        ("青山 GEP 统计报表 Qingshan GEP reporting form",),
        ("form_group 报表组", group.id, f"{group.name_zh} {group.name_en}"),
        ("year 报告年份", year),
        ("说明", group.description_zh),
        ("About", group.description_en),
        (),
        ("填表说明",),
        ("1", "在 data 工作表第 3 行起每行填写一个区划、一个项目：区划代码（GB/T 2260，6 位）、年份、项目、数值、单位。"),
        ("2", "数值须为非负数；单位可从下拉列表选择，也可填写可换算的单位（如 万t、亿m3、万人次）。"),
        ("3", "年份须与本表报告年份一致；同一区划同一项目只填一行。上传后系统逐格检查并用中英文指出错误的单元格。"),
        ("Instructions",),
        ("1", "On sheet 'data', from row 3, one row per region and item: region code (GB/T 2260, 6 digits), "
              "year, item, value, unit."),
        ("2", "Values must be non-negative numbers; pick a unit from the list or type a convertible one "
              "(e.g. 万t, 亿m3, 万人次)."),
        ("3", "The year must be the reporting year of this form; one row per region and item. On upload every "
              "cell is checked and errors name the cell in Chinese and English."),
        (),
    ]
    if group.is_raster:
        rows[7:14] = [
            ("填表说明",),
            ("1", "栅格数据通过网页或 API 逐个上传（GeoTIFF），每个文件对应一个变量和年份；rasters 工作表列出所需变量、单位和合理范围。"),
            ("Instructions",),
            ("1", "Upload rasters one by one (GeoTIFF) through the web page or the API, one file per variable and "
                  "year; sheet 'rasters' lists the variables, units and plausible ranges."),
        ]
    for r in rows:
        ws.append(list(r))
    if group.items:
        ws.append(["item 项目", "名称", "Name", "unit 单位", "indicator 指标", "component 组分"])
        for c in ws[ws.max_row]:
            c.font = _BOLD
        for it in group.items:
            ws.append([it.item, it.name_zh, it.name_en, it.unit, it.indicator or "（储备 reserved）", it.component or ""])
    ws["A1"].font = Font(bold=True, size=14)
    ws.column_dimensions["A"].width = 26
    ws.column_dimensions["B"].width = 60
    ws.column_dimensions["C"].width = 30


def _write_lists(ws: Any, group: FormGroup, regions: Sequence[tuple[str, str]]) -> None:
    ws.append(["item 项目", "unit 单位", "region_code 区划代码", "region_name 区划名称"])
    units = list(dict.fromkeys(u for it in group.items for u in SUGGESTED_UNITS.get(it.unit, (it.unit,))))
    n = max(len(group.items), len(units), len(regions))
    for i in range(n):
        it = group.items[i].item if i < len(group.items) else None
        un = units[i] if i < len(units) else None
        code, name = regions[i] if i < len(regions) else (None, None)
        ws.append([it, un, code, name])


def _write_data_sheet(ws: Any, group: FormGroup, year: int, n_regions: int, max_rows: int) -> None:
    for j, col in enumerate(group.columns, start=1):
        zh = ws.cell(row=1, column=j, value=f"{col.name_zh}{' *' if col.required else ''}")
        en = ws.cell(row=2, column=j, value=col.key)
        for c in (zh, en):
            c.font = _BOLD
            c.fill = _REQ_FILL if col.required else _HEAD_FILL
            c.alignment = Alignment(horizontal="center")
        ws.column_dimensions[get_column_letter(j)].width = col.width
    ws.freeze_panes = "A3"
    last = HEADER_ROWS + max_rows
    letter = {c.key: get_column_letter(j) for j, c in enumerate(group.columns, start=1)}
    n_units = len({u for it in group.items for u in SUGGESTED_UNITS.get(it.unit, (it.unit,))})

    def add(col: str, formula: str, *, strict: bool, zh: str, en: str) -> None:
        dv = DataValidation(type="list", formula1=formula, allow_blank=True, showErrorMessage=strict,
                            errorTitle="输入有误 Invalid", error=f"{zh} {en}", promptTitle=col, prompt=f"{zh} {en}",
                            showInputMessage=True)
        dv.add(f"{letter[col]}{HEADER_ROWS + 1}:{letter[col]}{last}")
        ws.add_data_validation(dv)

    add("item", f"={LISTS_SHEET}!$A$2:$A${len(group.items) + 1}", strict=True,
        zh="请从列表中选择项目。", en="Pick an item from the list.")
    add("unit", f"={LISTS_SHEET}!$B$2:$B${n_units + 1}", strict=False,
        zh="可选择或填写可换算的单位。", en="Pick or type a convertible unit.")
    if n_regions:
        add("region_code", f"={LISTS_SHEET}!$C$2:$C${n_regions + 1}", strict=False,
            zh="请填写 6 位行政区划代码。", en="Give a 6-digit GB/T 2260 code.")
    year_dv = DataValidation(type="whole", operator="equal", formula1=str(year), allow_blank=True,
                             showErrorMessage=True, errorTitle="年份 Year",
                             error=f"本表报告年份为 {year}。 This form reports year {year}.")
    year_dv.add(f"{letter['year']}{HEADER_ROWS + 1}:{letter['year']}{last}")
    ws.add_data_validation(year_dv)
    value_dv = DataValidation(type="decimal", operator="greaterThanOrEqual", formula1="0", allow_blank=True,
                              showErrorMessage=True, errorTitle="数值 Value",
                              error="数值须为非负数。 The value must be a non-negative number.")
    value_dv.add(f"{letter['value']}{HEADER_ROWS + 1}:{letter['value']}{last}")
    ws.add_data_validation(value_dv)


def _write_raster_sheet(ws: Any, group: FormGroup) -> None:
    ws.append(["variable 变量", "名称", "Description", "unit 单位", "min 最小值", "max 最大值", "categorical 分类"])
    for c in ws[1]:
        c.font = _BOLD
        c.fill = _HEAD_FILL
    for name in group.variables:
        v = VARIABLES[name]
        ws.append([v.name, v.name_zh, v.description, v.units, v.valid_min, v.valid_max, "yes" if v.categorical else ""])
    for col, width in zip("ABCDEFG", (20, 16, 50, 22, 10, 10, 12), strict=True):
        ws.column_dimensions[col].width = width


# ----------------------------------------------------------------------------- parsing and validation
@dataclass
class ParsedForm:
    """Rows read from a filled form, and every problem found (empty ``errors`` = valid)."""

    group: str
    year: int
    statistics: list[dict[str, Any]] = field(default_factory=list)
    prices: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no cell has an error."""
        return not self.errors

    def region_codes(self) -> set[str]:
        """Region codes of the rows read."""
        return {r["region_code"] for r in self.statistics}


# Characters of a cell value kept in an error entry, and of an error message (values are clipped:
# a huge cell must not be stored, listed and sent back whole).
VALUE_CHARS = 100
MESSAGE_CHARS = 400


class _Row:
    """Error collection for one data row."""

    def __init__(self, out: list[dict[str, Any]], sheet: str, row: int, letters: Mapping[str, str]) -> None:
        self.out, self.sheet, self.row, self.letters = out, sheet, row, letters

    def error(self, key: str, code: str, en: str, zh: str, value: Any = None) -> None:
        col = self.letters.get(key, "")
        where_en = f"Sheet '{self.sheet}', row {self.row}, column {col} ({key})"
        where_zh = f"工作表“{self.sheet}”第 {self.row} 行 {col} 列（{key}）"
        self.out.append({"sheet": self.sheet, "row": self.row, "column": col, "field": key, "code": code,
                         "value": None if value is None else clip(value, VALUE_CHARS),
                         "message_en": f"{where_en}: {clip(en, MESSAGE_CHARS)}",
                         "message_zh": f"{where_zh}：{clip(zh, MESSAGE_CHARS)}"})


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def _number(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int | float):
        return float(v)
    try:
        return float(str(v).strip().replace(",", ""))
    except ValueError:
        return None


def _code(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v).strip()


def _form_error(en: str, zh: str, fix: str, fix_zh: str, *, file: str | None = None) -> InputError:
    return InputError(en, zh, file=file, field="form", fix=fix, fix_zh=fix_zh)


def parse_form(content: bytes, group: FormGroup, year: int, *,
               known_regions: Mapping[str, str] | None = None,
               allowed_region: Any = None, filename: str | None = None,
               limits: Limits | None = None) -> ParsedForm:
    """Read a filled form and check every cell.

    Parameters
    ----------
    content : the XLSX bytes.
    group : the data group the form belongs to (a form of another group is refused).
    year : the reporting year; rows of another year are errors.
    known_regions : region codes (→ names) that exist; ``None`` skips the check.
    allowed_region : ``fn(code) -> bool`` for a submitter's assigned regions; ``None`` = any.
    filename : for error messages.
    limits : size limits (default: :func:`qingshan.core.limits.current_limits`): the zip is checked
        before it is opened (members, decompressed size), the sheet is read as a stream, and the
        rows, the characters per cell and the errors kept are bounded.

    Raises
    ------
    InputError : the file is not an XLSX form of this group (no per-cell report possible).
    LimitExceededError : the file is too large (zip members, decompressed size, rows).
    """
    limits = limits or current_limits()
    if group.is_raster:
        raise _form_error("Rasters are uploaded as GeoTIFF files, not as a form",
                          "栅格数据以 GeoTIFF 文件上传，而不是填写报表",
                          "Upload each raster with POST /api/submissions/rasters.",
                          "请通过 POST /api/submissions/rasters 逐个上传栅格。", file=filename)
    check_zip(content, limits, filename=filename)
    try:
        wb = load_workbook(io.BytesIO(content), data_only=True, read_only=True)
    except Exception as exc:  # openpyxl raises many types for a non-XLSX file
        raise _form_error(f"Not a readable XLSX workbook: {type(exc).__name__}",
                          "无法读取该文件：不是有效的 XLSX 工作簿",
                          f"Download the template of group '{group.id}', fill it in and upload it.",
                          f"请下载报表组 '{group.id}' 的模板，填写后上传。", file=filename) from exc
    _check_form_identity(wb, group, filename)
    ws = wb[DATA_SHEET]
    keys = [str(c.value).strip() if c.value is not None else "" for c in ws[HEADER_ROWS]]
    letters = {k: get_column_letter(j) for j, k in enumerate(keys, start=1) if k}
    missing = [c.key for c in group.columns if c.required and c.key not in letters]
    if missing:
        raise _form_error(f"The data sheet lacks the column(s) {', '.join(missing)} in row {HEADER_ROWS}",
                          f"data 工作表第 {HEADER_ROWS} 行缺少列 {', '.join(missing)}",
                          "Do not change the two header rows of the template.",
                          "请不要修改模板的两行表头。", file=filename)
    out = ParsedForm(group=group.id, year=year)
    seen: dict[tuple[str, str], int] = {}
    n_rows = 0
    for i, cells in enumerate(ws.iter_rows(min_row=HEADER_ROWS + 1, values_only=True), start=HEADER_ROWS + 1):
        if i - HEADER_ROWS > 4 * limits.form_rows:  # blank rows cost time too (a sheet of formatted empty rows)
            check_form_rows(i - HEADER_ROWS, limits, filename=filename)
        rec = {k: cells[j] if j < len(cells) else None for j, k in enumerate(keys) if k}
        if all(_blank(v) for v in rec.values()):
            continue
        n_rows += 1
        check_form_rows(n_rows, limits, filename=filename)
        row = _Row(out.errors, DATA_SHEET, i, letters)
        if _too_long(rec, row, limits.cell_chars):
            continue
        stat, price = _check_row(rec, row, group, year, known_regions, allowed_region)
        if stat is None:
            continue
        key = (stat["region_code"], stat["item"])
        if key in seen:
            row.error("item", "duplicate", f"item '{key[1]}' for region {key[0]} is already given in row {seen[key]}",
                      f"区划 {key[0]} 的项目 '{key[1]}' 已在第 {seen[key]} 行填写", key[1])
            continue
        seen[key] = i
        out.statistics.append(stat)
        if price is not None:
            out.prices.append(price)
    wb.close()
    _cap_errors(out.errors, limits.form_errors)
    if not out.statistics and not out.errors:
        out.errors.append({"sheet": DATA_SHEET, "row": HEADER_ROWS + 1, "column": "A", "field": "region_code",
                           "code": "empty_form", "value": None,
                           "message_en": f"Sheet '{DATA_SHEET}' has no data rows (from row {HEADER_ROWS + 1})",
                           "message_zh": f"工作表“{DATA_SHEET}”没有数据行（应从第 {HEADER_ROWS + 1} 行起填写）"})
    return out


def _too_long(rec: Mapping[str, Any], row: _Row, max_chars: int) -> bool:
    """Report every text cell longer than ``max_chars`` (value stored clipped); True if any."""
    long = [k for k, v in rec.items() if isinstance(v, str) and len(v) > max_chars]
    for k in long:
        n = len(rec[k])
        row.error(k, "too_long", f"the cell holds {n:,} characters, more than the {max_chars:,} allowed "
                  f"(limit cell_chars); shorten it",
                  f"单元格有 {n:,} 个字符，超过上限 {max_chars:,}（限值 cell_chars），请缩短", rec[k])
    return bool(long)


def _cap_errors(errors: list[dict[str, Any]], limit: int) -> None:
    """Keep the first ``limit`` errors and one entry counting the others (limit form_errors)."""
    if len(errors) <= limit:
        return
    more = len(errors) - limit
    last = errors[limit - 1]
    del errors[limit:]
    errors.append({"sheet": last["sheet"], "row": last["row"], "column": None, "field": None, "code": "more_errors",
                   "value": str(more),
                   "message_en": f"… and {more:,} more errors not listed (limit form_errors = {limit:,}); correct "
                                 "the cells listed and upload again to see the rest",
                   "message_zh": f"……另有 {more:,} 处错误未列出（限值 form_errors = {limit:,}）；请修改所列单元格后重新上传"})


def _check_form_identity(wb: Any, group: FormGroup, filename: str | None) -> None:
    if DATA_SHEET not in wb.sheetnames:
        raise _form_error(f"The workbook has no sheet '{DATA_SHEET}'", f"工作簿中没有“{DATA_SHEET}”工作表",
                          f"Use the template of group '{group.id}' (GET /api/forms/{group.id}/template).",
                          f"请使用报表组 '{group.id}' 的模板。", file=filename)
    if README_SHEET in wb.sheetnames:
        declared = wb[README_SHEET]["B2"].value
        if declared and str(declared).strip() != group.id:
            declared = clip(str(declared).strip(), 40)
            raise _form_error(f"This is a form of group '{declared}', not '{group.id}'",
                              f"该文件是报表组 '{declared}' 的报表，而不是 '{group.id}'",
                              f"Upload it as group '{declared}', or use the template of '{group.id}'.",
                              f"请作为报表组 '{declared}' 上传，或使用 '{group.id}' 的模板。", file=filename)


def _check_row(rec: Mapping[str, Any], row: _Row, group: FormGroup, year: int,
               known_regions: Mapping[str, str] | None,
               allowed_region: Any) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    n_before = len(row.out)
    for col in group.columns:
        if col.required and _blank(rec.get(col.key)):
            row.error(col.key, "missing", f"required cell '{col.key}' is empty", f"必填单元格“{col.name_zh}”为空")
    code = None if _blank(rec.get("region_code")) else _code(rec["region_code"])
    if code is not None:
        if known_regions is not None and code not in known_regions:
            row.error("region_code", "unknown_region", f"unknown region code '{code}' (not in the boundaries)",
                      f"未知的行政区划代码“{code}”（边界数据中没有）", code)
        elif allowed_region is not None and not allowed_region(code):
            row.error("region_code", "region_not_assigned", f"region '{code}' is not assigned to you",
                      f"区划“{code}”不在您的填报范围内", code)
    y = rec.get("year")
    if not _blank(y):
        yv = _number(y)
        if yv is None or not float(yv).is_integer():
            row.error("year", "not_numeric", f"year '{y}' is not a whole number", f"年份“{y}”不是整数", y)
        elif int(yv) != year:
            row.error("year", "year_mismatch", f"year {int(yv)} differs from the reporting year {year}",
                      f"年份 {int(yv)} 与报告年份 {year} 不一致", y)
    item_key = None if _blank(rec.get("item")) else str(rec["item"]).strip()
    item = group.item(item_key) if item_key else None
    if item_key and item is None:
        row.error("item", "unknown_item", f"unknown item '{item_key}' for group '{group.id}'",
                  f"报表组“{group.name_zh}”中没有项目“{item_key}”", item_key)
    value = _check_amount(rec, row, "value", "数值")
    unit = _check_unit(rec, row, "unit", item.unit if item else None)
    price = price_unit = None
    if group.with_prices and not _blank(rec.get("price")):
        price = _check_amount(rec, row, "price", "单价")
        if _blank(rec.get("price_unit")):
            row.error("price_unit", "missing", "a price needs its unit (e.g. 元/t)", "填写单价时须填写价格单位（如 元/t）")
        else:
            price_unit = _check_unit(rec, row, "price_unit", f"CNY/{item.unit}" if item else None)
    if len(row.out) > n_before or code is None or item is None or value is None or unit is None:
        return None, None
    source = "" if _blank(rec.get("source")) else str(rec["source"]).strip()
    stat = {"region_code": code, "year": year, "item": item.item, "value": value, "unit": unit, "source": source}
    price_row = None
    if price is not None and price_unit is not None:
        price_row = {"price_key": f"product_price.{item.item}", "value": price, "unit": price_unit,
                     "price_year": year, "region": code, "source": source}
    return stat, price_row


def _check_amount(rec: Mapping[str, Any], row: _Row, key: str, zh: str) -> float | None:
    v = rec.get(key)
    if _blank(v):
        return None
    x = _number(v)
    if x is None or not math.isfinite(x):
        row.error(key, "not_numeric", f"'{v}' is not a number", f"“{v}”不是数字（{zh}）", v)
        return None
    if x < 0:
        row.error(key, "negative", f"{x:g} is negative; {key} must be ≥ 0", f"{zh} {x:g} 为负数，应 ≥ 0", v)
        return None
    return x


def _check_unit(rec: Mapping[str, Any], row: _Row, key: str, expected: str | None) -> str | None:
    v = rec.get(key)
    if _blank(v):
        return None
    text = str(v).strip()
    try:
        parse_unit(text)
        if expected is not None:
            conversion_factor(text, expected)
    except UnitsError:
        hint = f" (expected a unit convertible to {expected})" if expected else ""
        hint_zh = f"（应可换算为 {expected}）" if expected else ""
        row.error(key, "bad_unit", f"unit '{text}' cannot be read or converted{hint}",
                  f"单位“{text}”无法识别或换算{hint_zh}", text)
        return None
    return text


def statistics_frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Statistics rows as the engine's statistics table (``region_code, year, item, value, unit, source``)."""
    cols = ["region_code", "year", "item", "value", "unit", "source"]
    return pd.DataFrame([{c: r.get(c) for c in cols} for r in rows], columns=cols)
