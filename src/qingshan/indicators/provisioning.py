"""Provisioning services (物质产品): declarations only.

Products are open-ended (rice, tea, pork, timber …), so provisioning indicators declare one
wildcard component ``*``: each product item in the statistics becomes a component, valued with the
price ``product_price.<item>`` of the price table.
"""

from __future__ import annotations

from qingshan.core.spec import Category, Certainty, ComponentSpec, IndicatorSpec, MethodSpec

__all__ = ["SPECS"]

_GARZE = "白玛卓嘎 et al. 甘孜藏族自治州生态系统生产总值核算研究. 生态学报 2017, 37(19)"


def _sector(id_: str, zh: str, en: str, sector: str) -> IndicatorSpec:
    return IndicatorSpec(
        id=id_,
        name_zh=zh,
        name_en=en,
        category=Category.PROVISIONING,
        description_en=f"{en}: output of each product from statistics × its price (or reported output value).",
        description_zh=f"{zh}：各产品产量（统计数据）× 价格，或统计报表中的产值。",
        components=(
            ComponentSpec(
                id="*",
                name_zh="产品",
                name_en="product",
                unit="(per product)",
                valuation="market_value",
                price_key="product_price.{item}",
                valuation_formula="V = Σ_i E_i × P_i (market value, 市场价值法)",
            ),
            ComponentSpec(
                id="output_value",
                name_zh="产值",
                name_en="Reported output value",
                unit="CNY",
                valuation="reported_value",
                price_key=None,
                valuation_formula="V = reported 总产值 (gross) or 增加值 (value added), option provisioning_convention",
            ),
        ),
        methods=(
            MethodSpec(
                id="product_price",
                kind="table",
                function="qingshan.quantities.provisioning:products_from_statistics",
                inputs=("statistics", "products"),
                formula="E_i from statistics (产量); value V = Σ_i E_i × P_i",
                source=_GARZE + "; 江波 et al. 生态学报 2017, 37(8) (V_p = Q_p × P_p)",
                clause="§2.3 产品提供",
                certainty=Certainty.VERIFIED,
                notes=f"Uses products of sector '{sector}' in the product table.",
            ),
            MethodSpec(
                id="output_value",
                kind="table",
                function="qingshan.quantities.provisioning:output_value_from_statistics",
                inputs=("statistics",),
                statistics_items=(f"output_value.{sector}", f"value_added.{sector}"),
                formula=f"V = 统计 {zh}产值: item output_value.{sector} (总产值, gross) or value_added.{sector} (增加值, net)",
                source=_GARZE + " (2010 农林牧渔净产值)",
                clause="§2.3 产品提供",
                certainty=Certainty.VERIFIED,
                notes="Convention is the profile option provisioning_convention: gross_output (default) or value_added. "
                      "The national spec is recalled to prefer product × price with 总产值 as fallback [R]. No resource-rent share λ is applied (Chinese practice).",
            ),
        ),
        default_method="product_price",
        source=_GARZE,
        clause="§2.3",
        certainty=Certainty.VERIFIED,
        notes=f"sector={sector}",
    )


WATER_SUPPLY = IndicatorSpec(
    id="water_supply",
    name_zh="水资源供给",
    name_en="Freshwater supply",
    aliases_zh=("淡水资源", "水资源"),
    category=Category.PROVISIONING,
    description_en="Water used by sector (domestic, industry, agriculture, ecological) or supplied by water projects, valued at water prices.",
    description_zh="分行业用水量（生活、工业、农业、生态）或水利工程供水量，按水价计价。",
    components=tuple(
        ComponentSpec(id=c, name_zh=zh, name_en=en, unit="m3", valuation="market_value",
                      price_key=f"water_price.{c}", price_unit="CNY/m3", valuation_formula="V = Σ_i Q_i × P_i")
        for c, zh, en in (
            ("domestic", "生活用水", "Domestic use"),
            ("industry", "工业用水", "Industrial use"),
            ("agriculture", "农业用水", "Agricultural use"),
            ("ecological", "生态用水", "Ecological use"),
            ("raw_water", "水利工程供水", "Raw water from water projects"),
        )
    ),
    methods=(
        MethodSpec(
            id="water_use_statistics", kind="table",
            function="qingshan.quantities.statistics:water_supply_from_statistics",
            inputs=("statistics",),
            statistics_items=tuple(f"water_use.{s}" for s in ("domestic", "industry", "agriculture", "ecological", "raw_water")),
            formula="Q_i from 水资源公报 water use by sector; V = Σ Q_i × P_i",
            source=_GARZE + " (prices 2.6/3.6/0.07 元/m³); 江波 et al. 2017 (0.5 元/m³ 水利工程水价)",
            clause="§2.3", certainty=Certainty.VERIFIED,
            notes="Transit water from upstream regions is not the region's product: profiles following GB/T 46869 deduct it by "
                  "the rule out_of_region_deduction (statistics item out_of_region_share.water_supply; engine/rules.py).",
        ),
    ),
    default_method="water_use_statistics",
    source=_GARZE, clause="§2.3", certainty=Certainty.VERIFIED,
)

ECO_ENERGY = IndicatorSpec(
    id="eco_energy",
    name_zh="生态能源",
    name_en="Ecological energy",
    aliases_zh=("水电",),
    category=Category.PROVISIONING,
    description_en="Hydropower generated in the region, valued at the electricity price.",
    description_zh="区域内水力发电量，按电价计价。",
    components=(
        ComponentSpec(id="hydropower", name_zh="水力发电", name_en="Hydropower", unit="kWh", valuation="market_value",
                      price_key="electricity_price.hydropower", price_unit="CNY/kWh", valuation_formula="V = E × P_e"),
    ),
    methods=(
        MethodSpec(
            id="generation_statistics", kind="table",
            function="qingshan.quantities.statistics:energy_from_statistics",
            inputs=("statistics",),
            statistics_items=("hydropower_generation",),
            formula="E from energy statistics (水力发电量); V = E × P_e",
            source=_GARZE + " (95.30亿kWh × 0.53 元/kWh)", clause="§2.3", certainty=Certainty.VERIFIED,
        ),
    ),
    default_method="generation_statistics",
    source=_GARZE, clause="§2.3", certainty=Certainty.VERIFIED,
)

SPECS = (
    _sector("agricultural_products", "农业产品", "Agricultural products", "agriculture"),
    _sector("forestry_products", "林业产品", "Forestry products", "forestry"),
    _sector("livestock_products", "畜牧业产品", "Livestock products", "livestock"),
    _sector("fishery_products", "渔业产品", "Fishery products", "fishery"),
    WATER_SUPPLY,
    ECO_ENERGY,
)
