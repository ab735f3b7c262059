"""Regulating services (调节服务): declarations only; algorithms live in ``qingshan.quantities``.

Sources are cited per method; certainty tags follow ``gep-methodology.md`` and its verification
companion (which wins where they differ).
"""

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

_RCEES_GARZE = "白玛卓嘎, 肖燚, 欧阳志云, 王莉雁. 甘孜藏族自治州生态系统生产总值核算研究. 生态学报 2017, 37(19): 6302-6312"
_RCEES_FOREST = "博文静 et al. 中国森林生态资产价值评估. 生态学报 2017, 37(12): 4182-4190"

WATER_CONSERVATION = IndicatorSpec(
    id="water_conservation",
    name_zh="水源涵养",
    name_en="Water conservation",
    aliases_zh=("水源涵养量",),
    category=Category.REGULATING,
    description_en="Water retained by ecosystems in the accounting year: precipitation minus storm runoff minus evapotranspiration, over natural and semi-natural ecosystems.",
    description_zh="生态系统在核算期内涵养的水量：降水量减去地表径流量和蒸散发量（自然与半自然生态系统）。",
    components=(
        ComponentSpec(
            id="water_conservation",
            name_zh="水源涵养量",
            name_en="Water retained",
            unit="m3",
            valuation="shadow_project",
            price_key="reservoir_capacity_cost",
            price_unit="CNY/m3",
            valuation_formula="V = Q_wr × C_we (reservoir construction cost per m³ of storage, 影子工程法)",
        ),
    ),
    methods=(
        MethodSpec(
            id="water_balance",
            kind="raster",
            function="qingshan.quantities.water:water_conservation_balance",
            inputs=("precip", "aet", "lulc"),
            params=(
                ParamRef(key="runoff_coef_rcees_2017", unit="1", per_class=True, description="surface-runoff coefficient α (RCEES 2017 table)"),
                ParamRef(key="runoff_coef_eco_redline_13", unit="1", per_class=True, description="surface-runoff coefficient α (13-value table)"),
            ),
            formula="Q_wr = Σ_i (P_i − R_i − ET_i) × A_i,  R_i = P_i × α_i",
            source="龚诗涵, 肖洋, 郑华, 肖燚, 欧阳志云. 中国生态系统水源涵养空间特征及其影响因素. 生态学报 2017, 37(7): 2455-2462; " + _RCEES_GARZE,
            clause="eq. 1–2; 表2 (runoff coefficients)",
            certainty=Certainty.PRACTICE,
            notes="Two runoff tables circulate; the profile must choose one (option runoff_table). Farmland and urban land are excluded by default (option water_conservation_ecosystems).",
        ),
        MethodSpec(
            id="budyko",
            kind="raster",
            function="qingshan.quantities.water:water_conservation_budyko",
            inputs=("precip", "pet", "lulc", "root_depth", "pawc"),
            params=(
                ParamRef(key="zhang_z", unit="1", description="Zhang seasonality constant Z"),
                ParamRef(key="kc", unit="1", per_class=True, description="crop/vegetation coefficient Kc"),
                ParamRef(key="root_depth_mm", unit="mm", per_class=True, description="maximum root depth of the class"),
                ParamRef(key="runoff_coef_rcees_2017", unit="1", per_class=True, description="surface-runoff coefficient α"),
            ),
            formula="AET/P = 1 + PET/P − [1 + (PET/P)^ω]^(1/ω), ω = Z·AWC/P + 1.25; Q = P − R − AET",
            source="Fu 1981; Zhang et al. 2004, Water Resour. Res. 40; Sharp et al., InVEST User's Guide, Annual Water Yield",
            clause="InVEST 3.20 annual_water_yield",
            certainty=Certainty.PRACTICE,
        ),
    ),
    default_method="water_balance",
    source=_RCEES_GARZE,
    clause="§2.4.1 水源涵养; GB/T 46869—2025 附录A (not obtained)",
    certainty=Certainty.PRACTICE,
)

SOIL_RETENTION = IndicatorSpec(
    id="soil_retention",
    name_zh="土壤保持",
    name_en="Soil retention",
    aliases_zh=("土壤保持量",),
    category=Category.REGULATING,
    description_en="Soil loss avoided by ecosystems: RUSLE potential (R·K·LS) minus actual (R·K·LS·C·P) erosion; valued as reduced reservoir sedimentation and reduced N and P non-point pollution.",
    description_zh="生态系统减少的土壤侵蚀量：潜在侵蚀量（R·K·LS）减去实际侵蚀量（R·K·LS·C·P）；价值为减少泥沙淤积和减少氮、磷面源污染。",
    components=(
        ComponentSpec(
            id="soil_retained", name_zh="土壤保持量", name_en="Soil retained", unit="t",
            valuation="reported_value", price_key=None,
            valuation_formula="physical headline only; valued through the three components below",
        ),
        ComponentSpec(
            id="sediment_reduction", name_zh="减少泥沙淤积", name_en="Reduced sedimentation", unit="m3",
            valuation="replacement_cost", price_key="dredging_cost", price_unit="CNY/m3",
            valuation_formula="V_sd = λ × (Q_sr / ρ) × c",
        ),
        ComponentSpec(
            id="nitrogen_retained", name_zh="减少氮面源污染", name_en="Reduced N non-point pollution", unit="t",
            valuation="replacement_cost", price_key="nitrogen_treatment_cost", price_unit="CNY/t",
            valuation_formula="V_N = Q_sr × C_N × P_N",
        ),
        ComponentSpec(
            id="phosphorus_retained", name_zh="减少磷面源污染", name_en="Reduced P non-point pollution", unit="t",
            valuation="replacement_cost", price_key="phosphorus_treatment_cost", price_unit="CNY/t",
            valuation_formula="V_P = Q_sr × C_P × P_P",
        ),
    ),
    methods=(
        MethodSpec(
            id="rusle",
            kind="raster",
            function="qingshan.quantities.soil:soil_retention_rusle",
            inputs=("dem", "lulc", "ndvi"),
            optional_inputs=("rain_erosivity", "precip", "soil_erodibility", "sand", "silt", "clay", "soil_organic_carbon"),
            params=(
                ParamRef(key="usle_p", unit="1", per_class=True, description="support-practice factor P"),
                ParamRef(key="ndvi_soil", unit="1", description="NDVI of bare soil (FVC = 0)"),
                ParamRef(key="ndvi_veg", unit="1", description="NDVI of full cover (FVC = 1)"),
                ParamRef(key="sediment_deposition_ratio", unit="1", description="λ, share of eroded soil deposited in reservoirs"),
                ParamRef(key="soil_bulk_density", unit="t/m3", description="ρ"),
                ParamRef(key="soil_n_content", unit="1", description="C_N, pure N content of soil"),
                ParamRef(key="soil_p_content", unit="1", description="C_P, pure P content of soil"),
                ParamRef(key="r_annual_a", unit="1", description="a of the annual-precipitation R fallback R = a·P^b (P in mm)"),
                ParamRef(key="r_annual_b", unit="1", description="b of the annual-precipitation R fallback R = a·P^b"),
                ParamRef(key="k_epic_correction_intercept", unit="1", description="K = (intercept + slope·K_EPIC)·to_si"),
                ParamRef(key="k_epic_correction_slope", unit="1", description="K = (intercept + slope·K_EPIC)·to_si"),
                ParamRef(key="k_epic_us_to_si", unit="1", description="US customary K → t·hm²·h/(hm²·MJ·mm)"),
                ParamRef(key="soil_erodibility_default", unit="t*hm2*h/(hm2*MJ*mm)", description="K when no soil raster is given"),
                ParamRef(key="rusle_m_break_1", unit="percent", description="slope below which m = rusle_m_exp_1"),
                ParamRef(key="rusle_m_break_2", unit="percent", description="slope below which m = rusle_m_exp_2"),
                ParamRef(key="rusle_m_break_3", unit="percent", description="slope below which m = rusle_m_exp_3 (else rusle_m_exp_4)"),
                ParamRef(key="rusle_m_exp_1", unit="1", description="L-factor exponent m, gentlest slopes"),
                ParamRef(key="rusle_m_exp_2", unit="1", description="L-factor exponent m"),
                ParamRef(key="rusle_m_exp_3", unit="1", description="L-factor exponent m"),
                ParamRef(key="rusle_m_exp_4", unit="1", description="L-factor exponent m, steepest slopes"),
            ),
            formula="Q_sr = R·K·L·S·(1 − C·P); C = 0.6508 − 0.3436·lg f (蔡崇法); L = (λ/22.13)^m; S after McCool/Liu",
            source=_RCEES_GARZE + "; 陈召亚 et al. 中国生态农业学报 2016, 24(2): 244-255 (factor formulas)",
            clause="§2.4.2 土壤保持",
            certainty=Certainty.PRACTICE,
        ),
    ),
    default_method="rusle",
    source=_RCEES_GARZE,
    clause="§2.4.2; HJ 1173—2021 A.2–A.13 (structure only)",
    certainty=Certainty.PRACTICE,
)

_NPP_PARAMS = (
    ParamRef(key="ndvi_soil", unit="1", description="NDVI of bare soil (FPAR = fpar_min)"),
    ParamRef(key="ndvi_veg", unit="1", description="NDVI of full cover (FPAR = fpar_max)"),
    ParamRef(key="fpar_max", unit="1", description="maximum FPAR (CASA 0.95)"),
    ParamRef(key="fpar_min", unit="1", description="minimum FPAR"),
    ParamRef(key="lue_epsilon", unit="g/MJ", description="light-use efficiency ε as carbon (CASA maximum)"),
    ParamRef(key="par_fraction", unit="1", description="PAR share of total solar radiation"),
    ParamRef(key="solar_radiation_annual", unit="MJ/m2", description="annual total solar radiation (used when no raster)"),
    ParamRef(key="nep_npp_ratio", unit="1", description="α = NEP/NPP"),
)

CARBON_SEQUESTRATION = IndicatorSpec(
    id="carbon_sequestration",
    name_zh="固碳",
    name_en="Carbon sequestration",
    aliases_zh=("固定二氧化碳", "固碳量"),
    category=Category.REGULATING,
    description_en="CO2 fixed by ecosystems in the accounting year (net ecosystem production as CO2).",
    description_zh="生态系统在核算期内固定的二氧化碳量（以净生态系统生产力折算）。",
    components=(
        ComponentSpec(
            id="co2_fixed", name_zh="固定二氧化碳量", name_en="CO2 fixed", unit="tCO2",
            valuation="market_value", price_key="carbon_price", price_unit="CNY/tCO2",
            valuation_formula="V_c = Q_CO2 × P_c (national carbon market CEA price, or afforestation cost)",
        ),
    ),
    methods=(
        MethodSpec(
            id="nep_from_npp",
            kind="raster",
            function="qingshan.quantities.carbon:carbon_nep",
            inputs=("lulc",),
            optional_inputs=("npp", "ndvi", "solar_radiation"),
            params=_NPP_PARAMS,
            formula="Q_CO2 = 44/12 × NEP; NEP = α × NPP; NPP from raster or LUE: NPP = ε × f_PAR × FPAR(NDVI) × SOL",
            source=_RCEES_FOREST + " (NEP = NPP − Rs); Potter et al. 1993 (CASA LUE)",
            clause="GB/T 46869—2025 A.7 净生态系统生产力法 (second-hand)",
            certainty=Certainty.RECALLED,
            notes="α·NPP (NEP ratio) is unverified; keep α a sourced parameter.",
        ),
    ),
    default_method="nep_from_npp",
    source=_RCEES_FOREST,
    clause="GB/T 46869—2025 A.7 (second-hand)",
    certainty=Certainty.PRACTICE,
)

OXYGEN_RELEASE = IndicatorSpec(
    id="oxygen_release",
    name_zh="释氧",
    name_en="Oxygen release",
    aliases_zh=("释放氧气", "氧气提供"),
    category=Category.REGULATING,
    description_en="O2 released by photosynthesis, from the CO2 fixed (32/44 by the photosynthesis equation).",
    description_zh="生态系统光合作用释放的氧气量（按光合作用方程由固碳量折算，32/44）。",
    components=(
        ComponentSpec(
            id="o2_released", name_zh="释氧量", name_en="O2 released", unit="t",
            valuation="market_value", price_key="oxygen_price", price_unit="CNY/t",
            valuation_formula="V_o = Q_O2 × P_o (industrial oxygen price)",
        ),
    ),
    methods=(
        MethodSpec(
            id="from_carbon",
            kind="raster",
            function="qingshan.quantities.carbon:oxygen_from_carbon",
            inputs=("lulc",),
            optional_inputs=("npp", "ndvi", "solar_radiation"),
            params=_NPP_PARAMS,
            formula="Q_O2 = 32/44 × Q_CO2",
            source="江波 et al. 白洋淀湿地生态系统最终服务价值评估. 生态学报 2017, 37(8) (1.63 kg CO2 / 1.2 kg O2 per kg dry matter)",
            clause="photosynthesis equation",
            certainty=Certainty.VERIFIED,
            notes="Not in the national list in some readings; switchable per profile.",
        ),
    ),
    default_method="from_carbon",
    source=_RCEES_GARZE,
    clause="§2.4.7 固碳释氧",
    certainty=Certainty.PRACTICE,
)

CLIMATE_REGULATION = IndicatorSpec(
    id="climate_regulation",
    name_zh="气候调节",
    name_en="Climate regulation",
    aliases_zh=("局部气候调节",),
    category=Category.REGULATING,
    description_en="Energy absorbed by vegetation transpiration and water-surface evaporation, expressed as the electricity air-conditioners and humidifiers would use.",
    description_zh="植被蒸腾和水面蒸发消耗的能量，折算为空调降温和加湿器增湿的耗电量。",
    components=(
        ComponentSpec(
            id="vegetation_transpiration", name_zh="植被蒸腾", name_en="Vegetation transpiration", unit="kWh",
            valuation="replacement_cost", price_key="electricity_price", price_unit="CNY/kWh",
            valuation_formula="V = E_pt × P_e",
        ),
        ComponentSpec(
            id="water_evaporation", name_zh="水面蒸发", name_en="Water-surface evaporation", unit="kWh",
            valuation="replacement_cost", price_key="electricity_price", price_unit="CNY/kWh",
            valuation_formula="V = E_we × P_e",
        ),
    ),
    methods=(
        MethodSpec(
            id="et_energy",
            kind="raster",
            function="qingshan.quantities.climate:climate_et_energy",
            inputs=("aet", "lulc"),
            optional_inputs=("hot_days", "water_evaporation"),
            params=(
                ParamRef(key="latent_heat", unit="kJ/kg", description="latent heat of vaporisation q"),
                ParamRef(key="ac_efficiency", unit="1", description="air-conditioner energy-efficiency ratio r"),
                ParamRef(key="humidifier_energy", unit="kWh/m3", description="γ, humidifier electricity per m³ vaporised"),
                ParamRef(key="hot_days", unit="day", description="days needing cooling D (when no raster)"),
                ParamRef(key="transpiration_share", unit="1", per_class=True, description="share of ET that is transpiration during cooling days"),
            ),
            formula="E_pt = ET_veg × ρ × q × (D/365) / (3600 × r); E_we = E_w × ρ × q / 3600 + E_w × γ",
            source=_RCEES_GARZE + " (§2.4.8 formula); GB/T 46869—2025 A.11 蒸散发能量 (second-hand)",
            clause="§2.4.8",
            certainty=Certainty.PRACTICE,
            notes="Cooling-day threshold (26 °C) and γ are unverified defaults; the water term is not divided by r (RCEES).",
        ),
    ),
    default_method="et_energy",
    source=_RCEES_GARZE,
    clause="§2.4.8 气候调节",
    certainty=Certainty.PRACTICE,
)

_FLOOD_COMPONENTS = (
    ("vegetation", "植被洪水调蓄", "Vegetation storm storage"),
    ("lakes", "湖泊洪水调蓄", "Lake storage"),
    ("reservoirs", "水库洪水调蓄", "Reservoir flood-control storage"),
    ("marshes", "沼泽洪水调蓄", "Marsh detention"),
)

FLOOD_REGULATION = IndicatorSpec(
    id="flood_regulation",
    name_zh="洪水调蓄",
    name_en="Flood regulation",
    aliases_zh=("洪水调蓄量",),
    category=Category.REGULATING,
    description_en="Flood water that vegetation, lakes, reservoirs and marshes can hold back, valued at reservoir construction cost.",
    description_zh="植被、湖泊、水库和沼泽可调蓄的洪水量，以水库单位库容造价计价。",
    components=tuple(
        ComponentSpec(
            id=cid, name_zh=zh, name_en=en, unit="m3", valuation="shadow_project",
            price_key="reservoir_capacity_cost", price_unit="CNY/m3",
            valuation_formula="V_fm = C_fm × C_we (影子工程法)",
        )
        for cid, zh, en in _FLOOD_COMPONENTS
    ),
    methods=(
        MethodSpec(
            id="storage_components",
            kind="table",
            function="qingshan.quantities.statistics:flood_from_registers",
            inputs=("statistics",),
            formula="C_fm = C_veg + C_lake + 0.35 × C_reservoir,total + 0.3 m × A_marsh; lakes: C_l = e^a × A^b × T by region",
            source=_RCEES_GARZE + "; 饶恩明 et al. 2014 生态学报 34(21) (lake model family)",
            clause="§2.4.4 洪水调蓄",
            certainty=Certainty.PRACTICE,
            notes="Eastern-plain lake coefficients are unverified; only the Qinghai–Tibet equation is confirmed.",
        ),
    ),
    default_method="storage_components",
    source=_RCEES_GARZE,
    clause="§2.4.4; GB/T 46869—2025 A.6 (second-hand)",
    certainty=Certainty.PRACTICE,
)

SPECS = (WATER_CONSERVATION, SOIL_RETENTION, FLOOD_REGULATION, CARBON_SEQUESTRATION, OXYGEN_RELEASE, CLIMATE_REGULATION)
