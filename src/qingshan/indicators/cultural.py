"""Cultural services (文化服务): declarations only."""

from __future__ import annotations

from qingshan.core.spec import (
    Category,
    Certainty,
    ComponentSpec,
    IndicatorSpec,
    MethodSpec,
    ParamRef,
)

__all__ = ["SPECS"]

_GARZE = "白玛卓嘎, 肖燚, 欧阳志云, 王莉雁. 甘孜藏族自治州生态系统生产总值核算研究. 生态学报 2017, 37(19): 6302-6312"
_BAIYANGDIAN = "江波, 陈媛媛, 肖洋, 赵娟娟, 欧阳志云. 白洋淀湿地生态系统最终服务价值评估. 生态学报 2017, 37(8): 2497-2505"

RECREATION = IndicatorSpec(
    id="recreation",
    name_zh="休闲旅游",
    name_en="Recreation and tourism",
    aliases_zh=("休闲游憩", "景观游憩", "旅游康养"),
    category=Category.CULTURAL,
    description_en="Visits to ecosystems, valued by the travel-cost method (expenses + travel time + consumer surplus) or by spending per visit.",
    description_zh="游客到访生态系统的人次，按旅行费用法（旅行花费 + 时间成本 + 消费者剩余）或人均消费计价。",
    components=(
        ComponentSpec(
            id="visits", name_zh="游客人次", name_en="Visits", unit="visit", valuation="travel_cost",
            price_key="travel_cost_per_visit", price_unit="CNY/visit",
            valuation_formula="V = N × (TE + TV + CS) (travel-cost method; time at 30 % of the daily wage)",
        ),
        ComponentSpec(
            id="travel_cost", name_zh="旅行费用（分区）", name_en="Zonal travel cost", unit="CNY",
            valuation="travel_cost", price_key=None,
            valuation_formula="V = Σ_j N_j × (T_j × s × W_j + C_j) (reported in CNY)",
        ),
        ComponentSpec(
            id="tourism_spending", name_zh="游客消费", name_en="Visitor spending", unit="CNY",
            valuation="reported_value", price_key=None,
            valuation_formula="V = visits × spending per visit (or tourism revenue)",
        ),
    ),
    methods=(
        MethodSpec(
            id="visits_statistics", kind="table",
            function="qingshan.quantities.statistics:visits_from_statistics",
            inputs=("statistics",),
            statistics_items=("ecotourism_visits",),
            formula="N from 文旅统计 (visits); V = N × TC",
            source=_BAIYANGDIAN, clause="§2 文化服务 (TE + TV + CS)", certainty=Certainty.VERIFIED,
            notes="Tourism revenue is already in GDP; GEP counts the ecosystem's contribution — keep the method choice explicit.",
        ),
        MethodSpec(
            id="zonal_travel_cost", kind="table",
            function="qingshan.quantities.cultural:recreation_zonal_travel_cost",
            inputs=("statistics",),
            statistics_items=("tcm.<zone>.visits", "tcm.<zone>.travel_time", "tcm.<zone>.wage", "tcm.<zone>.cost"),
            params=(ParamRef(key="travel_time_cost_share", unit="1", description="share s of the wage valuing travel time (30 %)"),),
            formula="V_r = Σ_j N_j × TC_j, TC_j = T_j × s × W_j + C_j (j = origin zone; items tcm.<zone>.visits|travel_time|wage|cost)",
            source="gep-methodology.md C1 (national-spec form recalled); " + _BAIYANGDIAN + " (time at 30 % of the wage)",
            clause="gep-methodology.md C1", certainty=Certainty.RECALLED,
            notes="Spec form unverified (verification §8). Consumer surplus is not added. C_j = transport + food and lodging + tickets per visit.",
        ),
        MethodSpec(
            id="visits_spending", kind="table",
            function="qingshan.quantities.cultural:recreation_spending",
            inputs=("statistics",),
            statistics_items=("ecotourism_visits", "tourism_spending_per_visit", "tourism_revenue"),
            formula="V = N × spending per visit (items ecotourism_visits, tourism_spending_per_visit), or tourism_revenue",
            source=_GARZE + " (358.68万人次 → 70.67亿元; 依据旅游总人次、旅游总收入)",
            clause="§2.5", certainty=Certainty.PRACTICE,
            notes="Simplified practice: counts visitor spending, which is already in GDP.",
        ),
    ),
    default_method="visits_statistics",
    source=_BAIYANGDIAN, clause="§2", certainty=Certainty.VERIFIED,
)

NON_USE = IndicatorSpec(
    id="non_use_value",
    name_zh="非使用价值",
    name_en="Non-use value",
    category=Category.CULTURAL,
    description_en="Existence and bequest value from contingent valuation (CVM). Not part of standard GEP; reported only where a study provides it.",
    description_zh="条件价值法（CVM）评估的存在价值和遗产价值。不属于标准 GEP，仅在研究提供时报告。",
    components=(
        ComponentSpec(id="non_use", name_zh="非使用价值", name_en="Non-use value", unit="CNY", valuation="reported_value",
                      price_key=None, valuation_formula="reported value (CVM)"),
    ),
    methods=(
        MethodSpec(
            id="reported", kind="table", function="qingshan.quantities.statistics:reported_values",
            inputs=("statistics",), formula="V as reported by a CVM survey", statistics_items=("non_use_value",),
            source=_BAIYANGDIAN, clause="非使用价值 (WTP 11.31 元/月)", certainty=Certainty.VERIFIED,
        ),
    ),
    default_method="reported",
    source=_BAIYANGDIAN, clause="§2", certainty=Certainty.VERIFIED,
    notes="Only in the rcees profile, to reproduce the Baiyangdian 2011 table.",
)

LANDSCAPE_VALUE = IndicatorSpec(
    id="landscape_value",
    name_zh="景观价值",
    name_en="Landscape (amenity) value",
    aliases_zh=("景观增值",),
    category=Category.CULTURAL,
    description_en="Amenity premium of land and housing near ecosystems (hedonic pricing): beneficiary area × price premium per m².",
    description_zh="生态系统周边土地和房产的景观溢价（享乐价格法）：受益面积 × 单位面积溢价。",
    components=(
        ComponentSpec(id="beneficiary_area", name_zh="景观受益面积", name_en="Beneficiary area", unit="m2",
                      valuation="reported_value", price_key=None, valuation_formula="physical headline"),
        ComponentSpec(id="landscape_premium", name_zh="景观溢价", name_en="Landscape premium", unit="CNY",
                      valuation="hedonic", price_key=None, valuation_formula="V = A_b × ΔP (reported in CNY)"),
    ),
    methods=(
        MethodSpec(
            id="hedonic_premium", kind="table",
            function="qingshan.quantities.cultural:landscape_hedonic",
            inputs=("statistics",),
            statistics_items=("landscape.beneficiary_area", "landscape.premium"),
            formula="V = A_b × ΔP (items landscape.beneficiary_area [m2], landscape.premium [CNY/m2 per year])",
            source="gep-methodology.md C2 (national list recalled; hedonic form)",
            clause="gep-methodology.md C2", certainty=Certainty.RECALLED,
            notes="Method details not retrieved (verification §8). The premium must be an annual value (e.g. a rent premium); "
                  "a capitalised house-price premium must be annualised by the user before it is entered.",
        ),
    ),
    default_method="hedonic_premium",
    source="发改基础〔2022〕481号 (list recalled, body not obtained)",
    clause="gep-methodology.md C2",
    certainty=Certainty.RECALLED,
    notes="Important in cities (Shenzhen-type accounting); optional elsewhere.",
)

SPECS = (RECREATION, LANDSCAPE_VALUE, NON_USE)
