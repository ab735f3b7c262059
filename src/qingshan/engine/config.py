"""The run configuration (TOML), validated into a typed :class:`RunConfig`.

Relative paths are relative to the config file. ``{year}`` in an input path is replaced by each
accounting year, so one config can account several years.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from qingshan.core.errors import ConfigError
from qingshan.core.variables import VARIABLES

__all__ = ["Exclusion", "RegionsConfig", "RunConfig", "TablesConfig", "load_config"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RegionsConfig(_Strict):
    """Boundary file of the lowest level and the attribute fields of each level."""

    file: Path
    levels: list[str] = ["province", "city", "county"]
    code_fields: list[str] = ["province_adcode", "city_adcode", "district_adcode"]
    name_fields: list[str] = ["province_name", "city_name", "district_name"]
    overlap_tolerance_km2: float = Field(0.01, ge=0, description="overlap of two leaf regions above this is an error")
    gap_tolerance_km2: float = Field(0.01, ge=0, description="gaps between leaf regions above this are QC notices")


class TablesConfig(_Strict):
    """Parameter, land-cover, price, deflator and statistics tables."""

    parameters: list[Path] = Field(default_factory=list)
    landcover: Path | None = None
    prices: Path
    deflator: Path | None = None
    statistics: Path | None = None
    products: Path | None = None


class RunSection(_Strict):
    """What to account."""

    name: str = "GEP accounting"
    years: list[int]
    profile: str
    base_year: int | None = None
    output: Path = Path("out")
    store: str | None = None
    data_dir: Path | None = Field(None, description="where run artifacts are kept (default: $QINGSHAN_DATA_DIR, "
                                  "or qingshan-data beside an SQLite store); required for PostgreSQL")
    engine: Literal["numpy", "dask"] = Field("numpy", description="accepted for old configs and ignored: there is one "
                                             "(block-wise) engine; use block_size and scheduler")
    block_size: int = Field(1024, gt=0, description="cells per block side; a block as large as the grid computes it whole")
    scheduler: str | None = Field(None, description="where blocks are computed: 'threads' (default), 'processes', or a "
                                  "dask.distributed scheduler address tcp://HOST:PORT")


class GridSection(_Strict):
    """Which input defines the accounting grid, and whether others may be resampled to it."""

    reference: str = "lulc"
    resample: bool = True


class PricesSection(_Strict):
    """How prices of other years are used."""

    year_policy: Literal["exact", "deflate"] = "deflate"


class Exclusion(_Strict):
    """An indicator of the profile left out of the run on purpose, and why (shown in the QC report)."""

    id: str = Field(description="indicator id of the profile")
    reason: str = Field(min_length=1, description="why it is not accounted, e.g. 'no hydropower in the region'")


class PlausibilityBounds(_Strict):
    """Expected ranges replacing an input's typical median / 99th percentile (genuinely extreme regions)."""

    median: tuple[float, float] | None = None
    p99: tuple[float, float] | None = None


class RunConfig(_Strict):
    """A whole run request."""

    run: RunSection
    regions: RegionsConfig
    grid: GridSection = GridSection()
    inputs: dict[str, str] = Field(default_factory=dict)
    tables: TablesConfig
    prices: PricesSection = PricesSection()
    options: dict[str, Any] = Field(default_factory=dict)
    parameters: dict[str, float] = Field(default_factory=dict)
    exclude: list[Exclusion] = Field(default_factory=list, description="indicators left out, each with a reason")

    plausibility: dict[str, Literal["off"] | PlausibilityBounds] = Field(
        default_factory=dict, description="per input: 'off' or bounds; 'crs': 'off' (qingshan.io.plausibility)")
    source_path: Path | None = None

    @field_validator("plausibility")
    @classmethod
    def _known_inputs(cls, v: dict[str, Any]) -> dict[str, Any]:
        for key in v:
            if key != "crs" and key not in VARIABLES:
                raise ValueError(f"unknown input '{key}' (use 'crs' or one of: {', '.join(sorted(VARIABLES))})")
        return v

    @field_validator("options")
    @classmethod
    def _workbook_unit(cls, v: dict[str, Any]) -> dict[str, Any]:
        if str(v.get("workbook_unit", "亿元")) not in ("亿元", "万元"):  # engine.workbook.WORKBOOK_UNITS
            raise ValueError(f"workbook_unit must be 亿元 or 万元 (工作簿单位应为 亿元 或 万元), got '{v['workbook_unit']}'")
        return v

    def input_path(self, name: str, year: int) -> Path:
        """Path of raster input ``name`` for ``year``."""
        return Path(self.inputs[name].replace("{year}", str(year)))


def _resolve(base: Path, data: dict[str, Any]) -> dict[str, Any]:
    def fix(p: Any) -> Any:
        return str((base / p).resolve()) if isinstance(p, str) and not Path(p).is_absolute() else p

    regions = data.get("regions", {})
    if "file" in regions:
        regions["file"] = fix(regions["file"])
    data["inputs"] = {k: fix(v) for k, v in data.get("inputs", {}).items()}
    tables = data.get("tables", {})
    for k, v in list(tables.items()):
        tables[k] = [fix(x) for x in v] if isinstance(v, list) else fix(v)
    run = data.get("run", {})
    for key in ("output", "data_dir"):
        if key in run:
            run[key] = fix(run[key])
    store = run.get("store")
    if isinstance(store, str) and store.startswith("sqlite:///") and not store.startswith("sqlite:////"):
        run["store"] = "sqlite:///" + str((base / store.removeprefix("sqlite:///")).resolve())
    return data


def load_config(path: str | Path) -> RunConfig:
    """Read and validate a run config; every problem names the file and the field."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"Config file not found: {path}",
            f"找不到配置文件：{path}",
            file=path,
            fix="Give the path of a TOML run config (see examples/jiangxi/jiangxi-2019.toml).",
            fix_zh="请给出 TOML 配置文件路径（参见 examples/jiangxi/jiangxi-2019.toml）。",
        )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"Config is not valid TOML: {exc}",
            f"配置文件不是有效的 TOML：{exc}",
            file=path,
            fix="Fix the syntax at the line and column given.",
            fix_zh="请修正所示行列处的语法。",
        ) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"Config {path.name} is not a UTF-8 text (TOML) file",
            f"配置文件 {path.name} 不是 UTF-8 文本（TOML）文件",
            file=path,
            fix="Give the run config (.toml), saved as UTF-8 text.",
            fix_zh="请给出以 UTF-8 文本保存的核算配置文件（.toml）。",
        ) from exc
    data = _resolve(path.parent, data)
    data["source_path"] = str(path.resolve())
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(x) for x in err["loc"])
        raise ConfigError(
            f"Config field '{loc}': {err['msg']}",
            f"配置项 '{loc}' 有误：{err['msg']}",
            file=path,
            field=loc,
            fix="See docs/config.md for the fields and their types.",
            fix_zh="字段及类型见 docs/config.md。",
        ) from exc
