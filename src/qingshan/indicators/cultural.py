"""Cultural services (文化服务): declarations only."""

from __future__ import annotations

from qingshan.core.spec import Category, Certainty, ComponentSpec, IndicatorSpec, MethodSpec

__all__ = ["SPECS"]

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
    ),
    methods=(
        MethodSpec(
            id="visits_statistics", kind="table",
            function="qingshan.quantities.statistics:visits_from_statistics",
            inputs=("statistics",),
            formula="N from 文旅统计 (visits); V = N × TC",
            source=_BAIYANGDIAN, clause="§2 文化服务 (TE + TV + CS)", certainty=Certainty.VERIFIED,
            notes="Tourism revenue is already in GDP; GEP counts the ecosystem's contribution — keep the method choice explicit.",
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
            inputs=("statistics",), formula="V as reported by a CVM survey",
            source=_BAIYANGDIAN, clause="非使用价值 (WTP 11.31 元/月)", certainty=Certainty.VERIFIED,
        ),
    ),
    default_method="reported",
    source=_BAIYANGDIAN, clause="§2", certainty=Certainty.VERIFIED,
    notes="Only in the rcees profile, to reproduce the Baiyangdian 2011 table.",
)

SPECS = (RECREATION, NON_USE)
