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
        ),
        default_method="product_price",
        source=_GARZE,
        clause="§2.3",
        certainty=Certainty.VERIFIED,
        notes=f"sector={sector}",
    )


SPECS = (
    _sector("agricultural_products", "农业产品", "Agricultural products", "agriculture"),
    _sector("forestry_products", "林业产品", "Forestry products", "forestry"),
    _sector("livestock_products", "畜牧业产品", "Livestock products", "livestock"),
    _sector("fishery_products", "渔业产品", "Fishery products", "fishery"),
)
