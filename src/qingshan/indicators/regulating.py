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
            blockwise=True,
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
            options={
                "runoff_table": "runoff_coef_rcees_2017 (default, RCEES 2017 表2) | runoff_coef_eco_redline_13",
                "water_conservation_ecosystems": "ecosystems counted (default forest, shrub, grassland, wetland)",
                "clip_negative": "true (default): negative retention (ET > P(1 − α)) counts 0",
            },
        ),
        MethodSpec(
            id="budyko",
            kind="raster",
            function="qingshan.quantities.water:water_conservation_budyko",
            blockwise=True,
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
            options={
                "budyko_vegetated_ecosystems": "ecosystems on the Budyko curve (default forest, shrub, grassland, cropland); others AET = min(PET, P)",
                "runoff_table": "land-cover column of runoff coefficients (default runoff_coef_rcees_2017)",
                "water_conservation_ecosystems": "ecosystems counted (default forest, shrub, grassland, wetland)",
                "clip_negative": "true (default): negative retention counts 0",
            },
            intermediates=("aet", "pet", "omega", "wyield"),
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
            inputs=("dem", "lulc"),
            optional_inputs=("ndvi", "rain_erosivity", "precip", "soil_erodibility", "sand", "silt", "clay", "soil_organic_carbon"),
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
            options={
                "flow_algorithm": "D8 | MFD — flow routing for the upslope area (default D8)",
                "mfd_exponent": "exponent of the MFD slope weights (default 1.1)",
                "ls_formula": "rusle_mccool (default: L = (λ/22.13)^m, S after McCool/Liu) | invest (InVEST 3.20 SDR Desmet & Govers, for cross-checks)",
                "l_max": "cap of L in ls_formula=invest (default 122, as InVEST)",
                "max_slope_length_m": "cap of the slope length λ [m] (default: none)",
                "c_factor": "ndvi (default: C from fractional vegetation cover, 蔡崇法) | landcover (C from the usle_c column, as InVEST)",
                "routing_tile_size": "routing tile [cells a side] of the LS factor (default 512, MFD 4096: larger grids are routed "
                                     "tile by tile, same LS, bounded memory; a grid within one tile is routed whole)",
            },
            intermediates=("r", "k", "c", "p", "ls", "rkls", "usle", "avoided_erosion"),
            blockwise=True,  # per cell given the derived input ls (routed once per DEM before the blocks)
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
            blockwise=True,
            inputs=("lulc",),
            optional_inputs=("npp", "ndvi", "solar_radiation"),
            params=_NPP_PARAMS,
            formula="Q_CO2 = 44/12 × NEP; NEP = α × NPP; NPP from raster or LUE: NPP = ε × f_PAR × FPAR(NDVI) × SOL",
            source=_RCEES_FOREST + " (NEP = NPP − Rs); Potter et al. 1993 (CASA LUE)",
            clause="GB/T 46869—2025 A.7 净生态系统生产力法 (second-hand)",
            certainty=Certainty.RECALLED,
            notes="α·NPP (NEP ratio) is unverified; keep α a sourced parameter.",
        ),
        MethodSpec(
            id="fixation_rate",
            kind="raster",
            function="qingshan.quantities.carbon:carbon_fixation_rate",
            blockwise=True,
            inputs=("lulc",),
            params=(
                ParamRef(key="carbon_fixation_rate", unit="tC/hm2", per_class=True, description="carbon sequestration rate FCSR/GSR/SCSR of the class [R]"),
                ParamRef(key="soil_carbon_coef_beta", unit="1", description="β, soil carbon relative to vegetation (forest, shrub) [R]"),
            ),
            formula="Q_CO2 = 44/12 × (FCSR × SF × (1 + β) + GSR × SG + Σ SCSR_i × SW_i)",
            source="gep-methodology.md R8 (recalled); GB/T 46869—2025 A.7 固碳速率法 (second-hand)",
            clause="GB/T 46869—2025 A.7 固碳速率法 (second-hand)",
            certainty=Certainty.RECALLED,
            notes="Formula and every rate are [R]: the shipped land-cover column carbon_fixation_rate holds placeholders "
                  "(see .meta.csv) and β = 0 until a sourced value is given. Cropland (CSCS from fertiliser and straw) is not implemented (rate 0).",
        ),
        MethodSpec(
            id="biomass_change",
            kind="table",
            function="qingshan.quantities.carbon:carbon_biomass_change",
            inputs=("statistics",),
            statistics_items=("biomass_carbon_stock.<ecosystem>",),
            formula="Q_CO2 = 44/12 × max(C_t − C_(t−1), 0); C = biomass carbon stock by ecosystem (items biomass_carbon_stock.<ecosystem>)",
            source="GB/T 46869—2025 A.7 生物量法 (second-hand); IPCC 2006 Guidelines Vol. 4 stock-difference method",
            clause="GB/T 46869—2025 A.7 生物量法 (second-hand)",
            certainty=Certainty.PRACTICE,
            notes="Stocks from the forest inventory (森林资源清查) for the accounting year and the year before; a net loss "
                  "counts 0 (option carbon_clip_negative). Method biomass_change_raster does the same from two "
                  "carbon-density rasters.",
        ),
        MethodSpec(
            id="biomass_change_raster",
            kind="raster",
            function="qingshan.quantities.carbon:carbon_biomass_change_raster",
            blockwise=True,
            inputs=("biomass_carbon", "biomass_carbon_previous", "lulc"),
            formula="Q_CO2 = 44/12 × max(C_t − C_(t−1), 0) × A (C: biomass carbon density, tC hm-2)",
            source="GB/T 46869—2025 A.7 生物量法 (second-hand); IPCC 2006 Guidelines Vol. 4 stock-difference method",
            clause="GB/T 46869—2025 A.7 生物量法 (second-hand)",
            certainty=Certainty.PRACTICE,
            notes="A net loss counts 0 (option carbon_clip_negative).",
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
            blockwise=True,
            inputs=("lulc",),
            optional_inputs=("npp", "ndvi", "solar_radiation"),
            params=_NPP_PARAMS,
            formula="Q_O2 = 32/44 × Q_CO2",
            source="江波 et al. 白洋淀湿地生态系统最终服务价值评估. 生态学报 2017, 37(8) (1.63 kg CO2 / 1.2 kg O2 per kg dry matter)",
            clause="photosynthesis equation",
            certainty=Certainty.VERIFIED,
            notes="Not in the national list in some readings; switchable per profile.",
        ),
        MethodSpec(
            id="from_fixation_rate",
            kind="raster",
            function="qingshan.quantities.carbon:oxygen_from_fixation_rate",
            blockwise=True,
            inputs=("lulc",),
            params=(
                ParamRef(key="carbon_fixation_rate", unit="tC/hm2", per_class=True, description="carbon sequestration rate of the class [R]"),
                ParamRef(key="soil_carbon_coef_beta", unit="1", description="β, soil carbon coefficient [R]"),
            ),
            formula="Q_O2 = 32/44 × Q_CO2 (fixation-rate method)",
            source="photosynthesis equation; gep-methodology.md R8/R9",
            clause="photosynthesis equation",
            certainty=Certainty.RECALLED,
            notes="Use with carbon_sequestration method fixation_rate so both indicators share one carbon estimate.",
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
            blockwise=True,
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
        MethodSpec(
            id="per_type",
            kind="raster",
            function="qingshan.quantities.climate:climate_per_type",
            blockwise=True,
            inputs=("lulc",),
            optional_inputs=("hot_days", "water_evaporation", "aet"),
            params=(
                ParamRef(key="transpiration_heat", unit="kJ/(m2*d)", per_class=True, description="EPP_i, heat consumed by transpiration per area and day (EMPTY by default)"),
                ParamRef(key="ac_efficiency", unit="1", description="air-conditioner energy-efficiency ratio r"),
                ParamRef(key="hot_days", unit="day", description="days needing cooling D (when no raster)"),
                ParamRef(key="latent_heat", unit="kJ/kg", description="latent heat of vaporisation q"),
                ParamRef(key="humidifier_energy", unit="kWh/m3", description="γ, humidifier electricity per m³ vaporised"),
            ),
            formula="E_pt = Σ_i EPP_i × S_i × D / (3600 × r); E_we = E_w × ρ × q / 3600 + E_w × γ",
            source=_RCEES_GARZE + " (§2.4.8: V_a = [Σ GPP·S_i·d/(3600·R)]·c); " + _RCEES_FOREST + " (R = 3.0)",
            clause="§2.4.8",
            certainty=Certainty.PRACTICE,
            notes="The per-type heat table (printed as GPP/EPP, kJ m-2 d-1) was not retrieved (verification §3): the "
                  "land-cover column transpiration_heat ships EMPTY and must be filled for forest, shrub and grassland; "
                  "a present class without a value is an error.",
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
            statistics_items=("reservoir_flood_storage", "vegetation_flood_storage", "reservoir_total_storage", "lake_area", "marsh_area"),
            params=(  # read by flood_from_registers (declared so that scenarios know what a change affects)
                ParamRef(key="reservoir_flood_share", unit="1", description="flood storage share of total reservoir storage (0.35)"),
                ParamRef(key="lake_model_a", unit="1", description="lake storage model C_l = e^a × A^b × T: a"),
                ParamRef(key="lake_model_b", unit="1", description="lake storage model: b"),
                ParamRef(key="lake_exchange_times", unit="1", description="lake storage model: T, exchanges per year"),
                ParamRef(key="marsh_detention_depth", unit="m", description="marsh detention depth (0.3 m)"),
            ),
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

_GAOTIANYAN = "缪建群, 孙松, 王志强, 黄国勤. 江西高天岩自然保护区生态系统服务功能价值评估. 生态学报 2017, 37(19): 6422-6430"

_CAP_NOTE = (
    "The raster method gives the ecosystem capacity per cell (per-area rates by land-cover class are "
    "land-cover-table columns, mostly [R] placeholders — see the table's .meta.csv). The accounted quantity is "
    "bounded per region by the emitted quantity in the statistics table: Q = min(capacity, emissions) "
    "(qingshan.engine.caps, after aggregation). Regions without emission statistics are an error unless option "
    "emission_cap_missing is 'capacity' or 'zero'. The general min rule is RCEES practice, unverified as spec text "
    "(verification §9)."
)


def _pollutant(cid: str, zh: str, en: str, price_source: str) -> ComponentSpec:
    return ComponentSpec(
        id=cid, name_zh=zh, name_en=en, unit="t", valuation="replacement_cost",
        price_key=f"pollution_control_cost.{cid}", price_unit="CNY/t",
        valuation_formula=f"V = Q × c (pollution-control / treatment cost; {price_source})",
        cap_item=f"emissions.{cid}",
    )


AIR_PURIFICATION = IndicatorSpec(
    id="air_purification",
    name_zh="空气净化",
    name_en="Air purification",
    aliases_zh=("大气净化", "大气环境净化"),
    category=Category.REGULATING,
    description_en="Air pollutants (SO2, NOx, dust) absorbed or retained by ecosystems, up to what the region emits.",
    description_zh="生态系统吸收、阻滞的大气污染物（二氧化硫、氮氧化物、粉尘），以区域排放量为上限。",
    components=(
        _pollutant("so2", "二氧化硫", "Sulphur dioxide (SO2)", "Garzê 1200 元/t"),
        _pollutant("nox", "氮氧化物", "Nitrogen oxides (NOx)", "Garzê 630 元/t"),
        _pollutant("dust", "粉尘", "Dust / particulates", "Garzê 150 元/t"),
    ),
    methods=(
        MethodSpec(
            id="capacity_capped",
            kind="raster",
            function="qingshan.quantities.purification:air_purification_capacity",
            blockwise=True,
            inputs=("lulc",),
            params=(
                ParamRef(key="so2_absorption", unit="kg/hm2", per_class=True, description="SO2 absorbed per area and year q_SO2"),
                ParamRef(key="nox_absorption", unit="kg/hm2", per_class=True, description="NOx absorbed per area and year q_NOx [R]"),
                ParamRef(key="dust_retention", unit="kg/hm2", per_class=True, description="dust retained per area and year q_dust"),
            ),
            formula="C_k = Σ_i q_k,i × A_i (capacity); Q_k = min(C_k, E_k) per region, E_k = emissions of pollutant k",
            source=_RCEES_GARZE + " (Q = emissions when below capacity); " + _RCEES_FOREST + " (per-area form); "
                   + _GAOTIANYAN + " (forest SO2 and dust rates)",
            clause="§2.4.5 大气净化",
            certainty=Certainty.PRACTICE,
            notes=_CAP_NOTE + " Components accounted: option air_purification_components (Jiangxi practice: so2, nox).",
        ),
    ),
    default_method="capacity_capped",
    source=_RCEES_GARZE,
    clause="§2.4.5; gep-methodology.md R6",
    certainty=Certainty.PRACTICE,
    notes="Prices: 排污费征收标准 2003 as used by Garzê 2010 [V]; the 环境保护税 pollution-equivalent alternative is unverified.",
)

WATER_PURIFICATION = IndicatorSpec(
    id="water_purification",
    name_zh="水质净化",
    name_en="Water purification",
    aliases_zh=("水环境净化", "水质净化量"),
    category=Category.REGULATING,
    description_en="Water pollutants (COD, NH3-N, TP) removed by wetlands and water bodies, up to what the region discharges.",
    description_zh="湿地和水体净化的水污染物（化学需氧量、氨氮、总磷），以区域排放量为上限。",
    components=(
        _pollutant("cod", "化学需氧量", "Chemical oxygen demand (COD)", "Garzê 700 元/t"),
        _pollutant("nh3n", "氨氮", "Ammonia nitrogen (NH3-N)", "Garzê 875 元/t"),
        _pollutant("tp", "总磷", "Total phosphorus (TP)", "Garzê P treatment cost 2800 元/t [D]"),
    ),
    methods=(
        MethodSpec(
            id="capacity_capped",
            kind="raster",
            function="qingshan.quantities.purification:water_purification_capacity",
            blockwise=True,
            inputs=("lulc",),
            params=(
                ParamRef(key="cod_removal", unit="kg/hm2", per_class=True, description="COD removal capacity per area and year [R]"),
                ParamRef(key="nh3n_removal", unit="kg/hm2", per_class=True, description="NH3-N removal capacity per area and year [R]"),
                ParamRef(key="tp_removal", unit="kg/hm2", per_class=True, description="TP removal capacity per area and year [R]"),
            ),
            formula="C_k = Σ_i q_k,i × A_i (capacity); Q_k = min(C_k, E_k) per region, E_k = discharge of pollutant k",
            source=_RCEES_GARZE + " (COD 5424 t, 氨氮 625 t = discharge received by wetlands)",
            clause="§2.4.6 水质净化",
            certainty=Certainty.PRACTICE,
            notes=_CAP_NOTE + " Per-area capacities are [R] placeholders (no retrieved source). Components accounted: "
                  "option water_purification_components (Jiangxi practice 水环境净化: cod, nh3n, tp).",
        ),
    ),
    default_method="capacity_capped",
    source=_RCEES_GARZE,
    clause="§2.4.6; gep-methodology.md R7",
    certainty=Certainty.PRACTICE,
)

NEGATIVE_IONS = IndicatorSpec(
    id="negative_ions",
    name_zh="负氧离子",
    name_en="Negative air ions",
    aliases_zh=("空气负离子", "提供负离子"),
    category=Category.REGULATING,
    description_en="Negative air ions produced by forests and shrubs (Jiangxi and Zhejiang county practice), valued at an ion production cost.",
    description_zh="森林和灌丛产生的空气负氧离子（江西、浙江县域实践），按负离子生产成本计价。",
    components=(
        ComponentSpec(id="ions_produced", name_zh="负氧离子产生量", name_en="Ions produced", unit="ion",
                      valuation="reported_value", price_key=None,
                      valuation_formula="physical headline G = 5.256×10^15 × Q × A × H / L (A in hm²); valued through ions_above_threshold"),
        ComponentSpec(id="ions_above_threshold", name_zh="超过阈值的负氧离子", name_en="Ions above the threshold",
                      unit="ion", valuation="replacement_cost", price_key="negative_ion_cost", price_unit="CNY/ion",
                      valuation_formula="U = 5.256×10^15 × A × H × K × (Q − 600) / L"),
    ),
    methods=(
        MethodSpec(
            id="ion_lifetime",
            kind="raster",
            function="qingshan.quantities.ions:negative_ions_production",
            blockwise=True,
            inputs=("lulc",),
            optional_inputs=("negative_ions", "stand_height"),
            params=(
                ParamRef(key="negative_ion_concentration", unit="cm-3", per_class=True, description="Q by class when no negative_ions raster"),
                ParamRef(key="stand_height", unit="m", per_class=True, description="H by class when no stand_height raster [R]"),
                ParamRef(key="negative_ion_lifetime", unit="min", description="ion lifetime L [R]"),
                ParamRef(key="negative_ion_threshold", unit="cm-3", description="concentration Q0 above which ions are valued [R]"),
            ),
            formula="G = Q × A × H × 525 600 / L (= 5.256×10^15 × Q × A[hm²] × H / L); valued part uses Q − Q0",
            source="LY/T 1721—2008 / GB/T 38582—2020 lineage, as recalled in gep-methodology.md R11; 婺源 2020 county report (FYLZ fields, public code)",
            clause="gep-methodology.md R11",
            certainty=Certainty.RECALLED,
            notes="Formula, 600 cm-3 threshold, lifetime L and cost K are all unverified (verification §7): every one is an "
                  "editable parameter. Shipped concentrations are Altai Mountains values (孙庆祥, 周华荣) and stand heights "
                  "placeholders. Counted on option negative_ion_ecosystems (default forest, shrub).",
        ),
    ),
    default_method="ion_lifetime",
    source="婺源 2020 county GEP report generator (public code, Jiangxi practice); LY/T 1721—2008 (not re-read)",
    clause="gep-methodology.md R11",
    certainty=Certainty.RECALLED,
)

SAND_FIXATION = IndicatorSpec(
    id="sand_fixation",
    name_zh="防风固沙",
    name_en="Windbreak and sand fixation",
    aliases_zh=("防风固沙量", "固沙"),
    category=Category.REGULATING,
    description_en="Wind erosion prevented by vegetation (RWEQ potential minus actual), valued as the cost of restoring the desertified land it avoids.",
    description_zh="植被减少的风蚀量（RWEQ 潜在风蚀量减实际风蚀量），按避免沙化土地的治理成本计价。",
    components=(
        ComponentSpec(id="sand_fixed", name_zh="固沙量", name_en="Sand fixed", unit="t", valuation="reported_value",
                      price_key=None, valuation_formula="physical headline; valued through desertified_land_avoided"),
        ComponentSpec(id="desertified_land_avoided", name_zh="减少沙化土地面积", name_en="Desertified land avoided",
                      unit="m2", valuation="replacement_cost", price_key="sand_control_cost", price_unit="CNY/m2",
                      valuation_formula="V_f = Q_sf / (ρ × h) × P_f (ρ 1.28 t/m³, h 0.1 m, P_f 3.75 元/m², Garzê)"),
    ),
    methods=(
        MethodSpec(
            id="rweq",
            kind="raster",
            function="qingshan.quantities.wind:sand_fixation_rweq",
            blockwise=True,
            inputs=("wind_factor", "ndvi", "lulc"),
            optional_inputs=("sand", "silt", "clay", "soil_organic_carbon"),
            params=(
                ParamRef(key="rweq_downwind_distance", unit="m", description="field length z [R]"),
                ParamRef(key="rweq_erodible_fraction", unit="1", description="EF when no texture rasters [R]"),
                ParamRef(key="rweq_crust_factor", unit="1", description="SCF when no texture rasters [R]"),
                ParamRef(key="rweq_roughness_factor", unit="1", description="K′ surface roughness [R]"),
                ParamRef(key="rweq_cover_coef", unit="1", description="c of C = exp(c × cover %) [R]"),
                ParamRef(key="ndvi_soil", unit="1", description="NDVI of bare soil"),
                ParamRef(key="ndvi_veg", unit="1", description="NDVI of full cover"),
                ParamRef(key="sand_bulk_density", unit="t/m3", description="ρ (Garzê 1.28)"),
                ParamRef(key="sand_cover_thickness", unit="m", description="h (Garzê 0.1)"),
            ),
            formula="S_L = (2z/s²)·Q_max·exp[−(z/s)²], Q_max = 109.8·(WF·EF·SCF·K′·C), s = 150.71·(WF·EF·SCF·K′·C)^−0.3711; Q_sf = S_L(C=1) − S_L(C)",
            source="Fryrear et al. 1998 RWEQ; " + _RCEES_GARZE + " (names RWEQ; valuation)",
            clause="§2.4.3 防风固沙; HJ 1173—2021 A.14–A.22 (structure only)",
            certainty=Certainty.RECALLED,
            notes="RWEQ equations are [R] (not re-read). Mostly irrelevant in humid south China (not in the Wuyuan report): optional per profile.",
        ),
    ),
    default_method="rweq",
    source=_RCEES_GARZE,
    clause="§2.4.3; gep-methodology.md R3",
    certainty=Certainty.PRACTICE,
)

COASTAL_PROTECTION = IndicatorSpec(
    id="coastal_protection",
    name_zh="海岸带防护",
    name_en="Coastal protection",
    aliases_zh=("海岸防护",),
    category=Category.REGULATING,
    description_en="Coastline protected by mangroves, salt marsh and reefs, valued at the cost of the seawall it replaces.",
    description_zh="红树林、盐沼、珊瑚礁等防护的海岸线长度，按替代海堤的建设维护成本计价。",
    components=(
        ComponentSpec(id="coastline_protected", name_zh="防护海岸线长度", name_en="Protected coastline", unit="km",
                      valuation="replacement_cost", price_key="coastal_protection_cost", price_unit="CNY/km",
                      valuation_formula="V = L × c (seawall construction and maintenance cost per km)"),
    ),
    methods=(
        MethodSpec(
            id="coastline_statistics",
            kind="table",
            function="qingshan.quantities.coastal:coastline_from_statistics",
            inputs=("statistics",),
            statistics_items=("coastline_protected",),
            formula="L from statistics (item coastline_protected, km); V = L × c",
            source="gep-methodology.md R4 (national list recalled)",
            clause="gep-methodology.md R4",
            certainty=Certainty.RECALLED,
            notes="A slot: no default seawall cost ships (price key coastal_protection_cost must be added with its source). Irrelevant inland.",
        ),
    ),
    default_method="coastline_statistics",
    source="发改基础〔2022〕481号 (list recalled, body not obtained)",
    clause="gep-methodology.md R4",
    certainty=Certainty.RECALLED,
)

_RUSLE_FACTOR_PARAMS = tuple(
    p for p in SOIL_RETENTION.methods[0].params
    if p.key not in ("sediment_deposition_ratio", "soil_n_content", "soil_p_content")
)
_FORESTRY_SOIL = ("GB/T 38582—2020 森林生态系统服务功能评估规范 保育土壤 (固土, 保肥); lineage LY/T 1721—2008 — "
                  "recalled, not re-read (gep-methodology.md R2); 欧阳志云 et al. 1999 生态学报 19(5) (减少土地废弃)")

SOIL_FERTILITY = IndicatorSpec(
    id="soil_fertility",
    name_zh="保育土壤",
    name_en="Soil conservation and fertility (forestry practice)",
    aliases_zh=("土壤保肥", "保肥"),
    category=Category.REGULATING,
    description_en="Soil kept in place by ecosystems (RUSLE, as soil retention) valued as in forestry practice: N, P, K and organic matter retained (fertiliser replacement) and land abandonment avoided. Use instead of soil_retention, not with it (the N and P parts overlap).",
    description_zh="生态系统减少的土壤侵蚀量（RUSLE，同土壤保持），按林业实践计价：保持的氮、磷、钾和有机质（化肥替代）及减少土地废弃。与土壤保持二选一（氮磷部分重叠）。",
    components=(
        ComponentSpec(id="soil_retained", name_zh="固土量", name_en="Soil retained", unit="t",
                      valuation="reported_value", price_key=None,
                      valuation_formula="physical headline; valued through the parts below"),
        ComponentSpec(id="nitrogen_retained", name_zh="保肥：氮", name_en="N retained", unit="t",
                      valuation="replacement_cost", price_key="fertilizer_price.n", price_unit="CNY/t",
                      valuation_formula="V_N = Q_sr × N × C_1 / R_1 (price per t of N = diammonium phosphate price / its N content)"),
        ComponentSpec(id="phosphorus_retained", name_zh="保肥：磷", name_en="P retained", unit="t",
                      valuation="replacement_cost", price_key="fertilizer_price.p", price_unit="CNY/t",
                      valuation_formula="V_P = Q_sr × P × C_1 / R_2 (diammonium phosphate price / its P content)"),
        ComponentSpec(id="potassium_retained", name_zh="保肥：钾", name_en="K retained", unit="t",
                      valuation="replacement_cost", price_key="fertilizer_price.k", price_unit="CNY/t",
                      valuation_formula="V_K = Q_sr × K × C_2 / R_3 (potassium chloride price / its K content)"),
        ComponentSpec(id="organic_matter_retained", name_zh="保肥：有机质", name_en="Organic matter retained", unit="t",
                      valuation="replacement_cost", price_key="organic_matter_price", price_unit="CNY/t",
                      valuation_formula="V_M = Q_sr × M × C_3 (organic matter price)"),
        ComponentSpec(id="abandoned_land_avoided", name_zh="减少土地废弃", name_en="Land abandonment avoided", unit="hm2",
                      valuation="avoided_cost", price_key="forestry_opportunity_cost", price_unit="CNY/hm2",
                      valuation_formula="V_a = Q_sr / (ρ × h) × B (B: annual forestry income per hm², opportunity cost)"),
    ),
    methods=(
        MethodSpec(
            id="rusle",
            kind="raster",
            function="qingshan.quantities.soil:soil_fertility_rusle",
            inputs=SOIL_RETENTION.methods[0].inputs,
            optional_inputs=SOIL_RETENTION.methods[0].optional_inputs,
            params=(
                *_RUSLE_FACTOR_PARAMS,
                ParamRef(key="soil_n_content", unit="1", description="N, total N content of soil"),
                ParamRef(key="soil_p_content", unit="1", description="P, total P content of soil"),
                ParamRef(key="soil_k_content", unit="1", description="K, total K content of soil [R]"),
                ParamRef(key="soil_organic_matter_content", unit="1", description="M, organic matter content of soil [R]"),
                ParamRef(key="soil_abandon_thickness", unit="m", description="h, soil thickness lost before land is abandoned [R]"),
            ),
            formula="Q_sr as soil_retention (RUSLE); G_x = Q_sr × C_x (x = N, P, K, M); A = Q_sr / (ρ × h)",
            source=_FORESTRY_SOIL,
            clause="GB/T 38582—2020 保育土壤 (recalled)",
            certainty=Certainty.RECALLED,
            options=SOIL_RETENTION.methods[0].options,
            blockwise=True,  # per cell given the derived input ls, as soil_retention/rusle
            notes="Every fertility coefficient and price is an editable [R] item: K and organic-matter contents, the "
                  "abandonment thickness h, fertiliser prices and contents, and the forestry income per hm² are recalled, "
                  "not re-read. Replace them by soil-survey and local market values.",
        ),
    ),
    default_method="rusle",
    source=_FORESTRY_SOIL,
    clause="GB/T 38582—2020 (recalled)",
    certainty=Certainty.RECALLED,
)

_GARZE_PEST = _RCEES_GARZE + " (病虫害控制, 2010 costs; Table 1 lists it among regulating services)"

PEST_CONTROL = IndicatorSpec(
    id="pest_control",
    name_zh="病虫害控制",
    name_en="Pest control",
    aliases_zh=("病虫害防治",),
    category=Category.REGULATING,
    description_en="Forest and grassland that keep pests and diseases down by themselves, valued at the cost of controlling them artificially.",
    description_zh="森林和草地生态系统自身控制病虫害的面积，按人工防治成本计价。",
    components=(
        ComponentSpec(id="forest_area", name_zh="森林病虫害控制面积", name_en="Forest area", unit="hm2",
                      valuation="replacement_cost", price_key="pest_control_cost.forest", price_unit="CNY/hm2",
                      valuation_formula="V = A_forest × C_forest (artificial control cost per hm², Garzê 375 元/hm²)"),
        ComponentSpec(id="grassland_area", name_zh="草地病虫害控制面积", name_en="Grassland area", unit="hm2",
                      valuation="replacement_cost", price_key="pest_control_cost.grassland", price_unit="CNY/hm2",
                      valuation_formula="V = A_grassland × C_grassland (Garzê 112.5 元/hm²)"),
    ),
    methods=(
        MethodSpec(
            id="ecosystem_area",
            kind="raster",
            function="qingshan.quantities.habitat:pest_control_area",
            blockwise=True,
            inputs=("lulc",),
            formula="V = A_forest × C_forest + A_grassland × C_grassland",
            source=_GARZE_PEST,
            clause="§2.4 病虫害控制; gep-methodology.md R12",
            certainty=Certainty.VERIFIED,
            notes="Garzê only: not in the national list [R] — optional per profile (rcees). Garzê counts the area that "
                  "recovers by itself; this method counts all forest and grassland cells.",
        ),
    ),
    default_method="ecosystem_area",
    source=_GARZE_PEST,
    clause="gep-methodology.md R12",
    certainty=Certainty.PRACTICE,
    notes="Not in the national list (R12, still unverified in the verification companion).",
)

SPECIES_CONSERVATION = IndicatorSpec(
    id="species_conservation",
    name_zh="物种保育",
    name_en="Species conservation",
    aliases_zh=("生物多样性维护", "物种保育更新"),
    category=Category.REGULATING,
    description_en="Habitat that conserves species, valued per hectare by the diversity class of the region (local option).",
    description_zh="生态系统为物种提供栖息地的保育价值，按区域多样性等级的单位面积价值计价（地方选项）。",
    components=(
        ComponentSpec(id="habitat_area", name_zh="物种保育面积", name_en="Habitat area", unit="hm2",
                      valuation="avoided_cost", price_key="species_conservation_value", price_unit="CNY/hm2",
                      valuation_formula="V = A × S (S: value per hm² of the region's Shannon–Wiener index class)"),
    ),
    methods=(
        MethodSpec(
            id="habitat_area",
            kind="raster",
            function="qingshan.quantities.habitat:species_conservation_area",
            blockwise=True,
            inputs=("lulc",),
            formula="V = Σ A × S_class (forestry standards LY/T 1721—2008 / GB/T 38582—2020 Shannon–Wiener classes, recalled)",
            source="local option: 海南 DB46/T 611—2023 (appendix B lists 物种保育更新 parameters; body not obtained); "
                   "山东 2022 (生物多样性维护); forestry lineage LY/T 1721—2008 / GB/T 38582—2020 (recalled, not re-read)",
            clause="gep-methodology.md §3.1 table and note 4 (local option; supporting service in the national view)",
            certainty=Certainty.RECALLED,
            options={"species_conservation_ecosystems": "ecosystems counted (default forest)"},
            notes="Not verifiable from the retrieved texts: the per-hectare value is a price row (species_conservation_value) "
                  "the user must set for the region's diversity class; the shipped row is an [R] placeholder. The national "
                  "view treats biodiversity as a supporting service (double counting) — use only where a local standard does.",
        ),
    ),
    default_method="habitat_area",
    source="local standards (Hainan DB46/T 611—2023, Shandong 2022) — method not retrieved",
    clause="gep-methodology.md §3.1",
    certainty=Certainty.RECALLED,
)

SPECS = (
    WATER_CONSERVATION,
    SOIL_RETENTION,
    FLOOD_REGULATION,
    AIR_PURIFICATION,
    WATER_PURIFICATION,
    CARBON_SEQUESTRATION,
    OXYGEN_RELEASE,
    CLIMATE_REGULATION,
    NEGATIVE_IONS,
    SAND_FIXATION,
    COASTAL_PROTECTION,
    PEST_CONTROL,
    SPECIES_CONSERVATION,
    SOIL_FERTILITY,
)
