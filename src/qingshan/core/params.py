"""Parameters (coefficients) and the land-cover table, as versioned, sourced, editable data.

Every parameter carries a value, a unit, a source and a certainty tag; methods ask for a
parameter *in the unit they need* and get it converted, so a table may say ``0.24`` for a
coefficient, ``0.93 t/m3`` or ``930 kg/m3`` for a bulk density alike.

The land-cover table maps each land-cover code of the input raster to an ecosystem type
(森林, 灌丛, 草地, 湿地, 农田, 城镇, 荒漠, 其他) and holds per-class coefficients (runoff
coefficient, USLE P factor, transpiration heat …). Its companion ``*.meta.csv`` gives the unit and
source of every coefficient column.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from qingshan.core.distributions import Distribution, parse_distribution
from qingshan.core.errors import InputError, MissingParameterError
from qingshan.core.tables import CsvRows, parse_float, read_csv_rows
from qingshan.core.units import check_unit, conversion_factor

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DIST_COLUMNS",
    "ECOSYSTEMS",
    "ECOSYSTEM_IDS",
    "ECOSYSTEM_SUBTYPES",
    "ECOSYSTEM_ZH",
    "NOT_BROKEN_DOWN",
    "LandcoverTable",
    "ParamSet",
    "Parameter",
    "ParameterTable",
    "double_counted_ecosystem",
    "ecosystem_label",
    "file_sha256",
    "top_ecosystem",
    "unique_codes",
]

ECOSYSTEMS = ("forest", "shrub", "grassland", "wetland", "cropland", "urban", "desert", "other")
ECOSYSTEM_ZH = {
    "forest": "森林",
    "shrub": "灌丛",
    "grassland": "草地",
    "wetland": "湿地",
    "cropland": "农田",
    "urban": "城镇",
    "desert": "荒漠",
    "other": "其他",
    "all": "合计",
    "forest.coniferous": "针叶林",
    "forest.broadleaf": "阔叶林",
    "forest.mixed": "针阔混交林",
    "forest.bamboo": "竹林",
}
ECOSYSTEM_SUBTYPES: dict[str, tuple[str, ...]] = {
    "forest": ("forest.coniferous", "forest.broadleaf", "forest.mixed", "forest.bamboo"),
}
"""Second level of the ecosystem hierarchy (森林 → 针叶林, 阔叶林, 针阔混交林, 竹林). Raster results are
by the first level (:data:`ECOSYSTEMS`); quantities, statistics and land-cover tables may use either
level, and second-level values roll up to their parent."""
ECOSYSTEM_IDS: tuple[str, ...] = (*ECOSYSTEMS, *(s for subs in ECOSYSTEM_SUBTYPES.values() for s in subs))
"""Every ecosystem id of either level."""


def top_ecosystem(eco: str) -> str:
    """The first-level ecosystem of ``eco`` (``forest.bamboo`` → ``forest``; first-level ids unchanged)."""
    for parent, subs in ECOSYSTEM_SUBTYPES.items():
        if eco in subs:
            return parent
    return eco
NOT_BROKEN_DOWN = "all"
"""Ecosystem value of a regional total not broken down by ecosystem (``qingshan value`` input)."""


def ecosystem_label(eco: str) -> str:
    """Column label of an ecosystem in the by-ecosystem tables (``all``: not broken down)."""
    if eco == NOT_BROKEN_DOWN:
        return "未分生态系统 not broken down"
    return f"{ECOSYSTEM_ZH.get(eco, eco)} {eco}"


def double_counted_ecosystem(ecosystems: set[str]) -> str | None:
    """A first-level id beside one of its own second-level ids (counted twice), else None."""
    for eco in ecosystems:
        if eco in ECOSYSTEM_SUBTYPES and ecosystems & set(ECOSYSTEM_SUBTYPES[eco]):
            return eco
    return None


def file_sha256(path: str | Path) -> str:
    """Content hash of a file, recorded in run provenance; a missing or unreadable file is an InputError."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
        raise InputError(
            f"Input file not found: {path}", f"找不到输入文件：{path}", file=path,
            fix="Check the path in the run config (relative paths are relative to the config file).",
            fix_zh="请检查核算配置中的路径（相对路径相对于配置文件所在目录）。",
        ) from exc
    except PermissionError as exc:
        raise InputError(
            f"Input file cannot be read (permission denied): {path}", f"无权读取输入文件：{path}", file=path,
            fix="Give the user running Qingshan read access to the file.", fix_zh="请授予运行青山的用户读取该文件的权限。",
        ) from exc
    return h.hexdigest()


@dataclass(frozen=True)
class Parameter:
    """One scalar parameter: value in ``unit``, with its source and certainty tag."""

    key: str
    value: float
    unit: str
    source: str
    certainty: str = "R"
    note: str = ""
    distribution: Distribution | None = None
    """Optional uncertainty of the value (columns ``dist_kind, dist_a, dist_b, dist_c, dist_source``;
    key ``param:<param_key>``, in the parameter's unit), used by ``qingshan uncertainty``."""


DIST_COLUMNS = {"kind": "dist_kind", "a": "dist_a", "b": "dist_b", "c": "dist_c", "source": "dist_source"}
"""Optional distribution columns of a parameter table (see :mod:`qingshan.core.distributions`)."""


def _row_distribution(row: Mapping[str, str], key: str, unit: str, i: int, path: str | Path) -> Distribution | None:
    """The distribution of a parameter row, or None when its ``dist_kind`` cell is absent or empty."""
    cells = {c: row.get(c, "") for c in DIST_COLUMNS.values()}
    if not str(cells["dist_kind"] or "").strip():
        filled = [c for c, v in cells.items() if str(v or "").strip()]
        if filled:
            raise InputError(
                f"Parameter '{key}' (row {i}) fills {', '.join(filled)} but not dist_kind",
                f"参数 '{key}'（第 {i} 行）填写了 {', '.join(filled)}，但缺少 dist_kind",
                file=path, field="dist_kind",
                fix="Give dist_kind (normal, lognormal, uniform, triangular) or leave every dist_* cell empty.",
                fix_zh="请填写 dist_kind（normal、lognormal、uniform、triangular），或将所有 dist_* 单元格留空。",
            )
        return None
    return parse_distribution({**cells, "key": f"param:{key}", "unit": unit}, i, path,
                              names={**DIST_COLUMNS, "key": "key", "unit": "unit"})


@dataclass(frozen=True)
class ParameterTable:
    """Scalar parameters by key. Read with :meth:`from_csv`; look up with :meth:`get`."""

    params: Mapping[str, Parameter]
    path: str = "<memory>"

    @classmethod
    def from_csv(cls, path: str | Path) -> ParameterTable:
        """Read ``param_key, value, unit, source[, certainty, note]``; duplicate keys are errors.

        Optional columns ``dist_kind, dist_a, dist_b, dist_c, dist_source`` give a row's uncertainty
        (:class:`~qingshan.core.distributions.Distribution`, in the row's unit); empty cells: none."""
        rows = read_csv_rows(path, ["param_key", "value", "unit", "source"], what="parameter table", what_zh="参数表")
        out: dict[str, Parameter] = {}
        for i, row in enumerate(rows.records(), start=2):
            key = str(row["param_key"]).strip()
            if not key:
                continue
            if key in out:
                raise InputError(
                    f"Duplicate parameter '{key}' (row {i})",
                    f"参数 '{key}' 重复（第 {i} 行）",
                    file=path,
                    field="param_key",
                    fix="Keep one row per parameter key.",
                    fix_zh="每个参数只保留一行。",
                )
            unit = str(row["unit"]).strip() or "1"
            check_unit(unit)
            out[key] = Parameter(
                key=key,
                value=parse_float(row["value"], path=path, field="value", row=i, what_zh="参数表"),
                unit=unit,
                source=str(row["source"]),
                certainty=str(row.get("certainty", "R") or "R"),
                note=str(row.get("note", "") or ""),
                distribution=_row_distribution(row, key, unit, i, path),
            )
        return cls(params=out, path=str(path))

    def with_overrides(self, overrides: Mapping[str, float]) -> ParameterTable:
        """A copy with some values replaced (units kept); unknown keys are errors."""
        new = dict(self.params)
        for key, value in overrides.items():
            old = self._require(key)
            new[key] = Parameter(key, float(value), old.unit, f"override (was {old.value} from {old.source})", "user")
        return ParameterTable(params=new, path=self.path)

    def _require(self, key: str) -> Parameter:
        try:
            return self.params[key]
        except KeyError:
            raise MissingParameterError(
                f"Parameter '{key}' is not in the parameter table",
                f"参数表中缺少参数 '{key}'",
                file=self.path,
                field=key,
                fix=f"Add a row '{key},<value>,<unit>,<source>' to the parameter table.",
                fix_zh=f"请在参数表中添加一行 '{key},<数值>,<单位>,<来源>'。",
            ) from None

    def get(self, key: str, unit: str) -> float:
        """Value of ``key`` converted to ``unit``."""
        p = self._require(key)
        return p.value * conversion_factor(p.unit, unit)

    def describe(self, key: str) -> Parameter:
        """The full record of ``key`` (for provenance and docs)."""
        return self._require(key)


def unique_codes(codes: np.ndarray) -> np.ndarray:
    """Sorted distinct values of an integer code array, as ``np.unique`` gives them.

    Land-cover codes are small non-negative integers: counting them (``np.bincount``) is about ten times
    faster than ``np.unique``'s sort or hash on a large raster. Other arrays go to ``np.unique``.
    """
    flat = np.asarray(codes).ravel()
    if flat.size and flat.dtype.kind in "iu" and flat.min() >= 0 and flat.max() < 1 << 20:
        return np.flatnonzero(np.bincount(flat)).astype(flat.dtype)
    return np.unique(flat)


def _valid_codes(codes: np.ndarray) -> np.ndarray | None:
    """Mask of the cells with a land-cover code (``codes >= 0``; NaN and negatives are nodata), or
    None when every cell has one (an integer raster without nodata: no mask to build)."""
    if codes.dtype.kind in "iu" and (codes.size == 0 or codes.min() >= 0):
        return None
    return codes >= 0


_LUT_MAX_CODE = 1 << 20
"""Largest land-cover code looked up through a dense table (8 MiB of float64)."""


def _take_by_code(
    table_codes: np.ndarray, values: np.ndarray, codes: np.ndarray, valid: np.ndarray | None, fill: float
) -> np.ndarray:
    """``values`` of each cell's code (all codes of valid cells are in ``table_codes``), ``fill``
    elsewhere.

    Small non-negative integer codes index a dense look-up table (``np.take``, one pass); other
    codes (floats, negative or huge table codes) are found by binary search. Both give the same
    values; the caller has already rejected codes missing from the table.
    """
    dense = codes.dtype.kind in "iu" and table_codes.min() >= 0 and table_codes.max() < _LUT_MAX_CODE
    if dense:
        lut = np.full(int(table_codes.max()) + 2, fill, dtype=values.dtype)
        lut[table_codes] = values
        idx = codes if valid is None else np.where(valid, codes, lut.size - 1)  # last slot: fill
        return lut.take(idx)
    mask = np.ones(codes.shape, dtype=bool) if valid is None else valid
    order = np.argsort(table_codes)
    idx = np.searchsorted(table_codes[order], np.where(mask, codes, table_codes.min()))
    out = values[order][np.clip(idx, 0, len(order) - 1)]
    return np.where(mask, out, fill)


@dataclass(frozen=True, init=False, eq=False)
class LandcoverTable:
    """Land-cover code → ecosystem type and per-class coefficients (wide CSV + meta CSV).

    Read from CSV (:meth:`from_csv`), the table is kept as text cells (no pandas import on a command's
    start-up path: :meth:`cell`, :attr:`columns`, :attr:`codes`); :attr:`table` gives it as a DataFrame
    indexed by code (built on first use). May also be built from such a DataFrame."""

    units: Mapping[str, str]
    sources: Mapping[str, str]
    path: str
    if TYPE_CHECKING:  # set in __init__, not dataclass fields
        _frame: pd.DataFrame | None
        _columns: tuple[str, ...]
        _codes: list[int]
        _cells: dict[str, dict[int, str]]

    def __init__(self, table: pd.DataFrame | CsvRows, units: Mapping[str, str], sources: Mapping[str, str],
                 path: str = "<memory>") -> None:
        set_ = object.__setattr__
        set_(self, "units", units)
        set_(self, "sources", sources)
        set_(self, "path", path)
        if isinstance(table, CsvRows):  # from_csv: codes already checked, in the "code" column
            set_(self, "_frame", None)
            set_(self, "_columns", table.columns)
            set_(self, "_codes", [int(float(c)) for c in table.column("code")])
            cells = {col: table.column(col) for col in table.columns}
        else:
            set_(self, "_frame", table)
            set_(self, "_columns", tuple(str(c) for c in table.columns))
            set_(self, "_codes", [int(c) for c in table.index])
            cells = {str(col): [str(v) for v in table[col]] for col in table.columns}
        set_(self, "_cells", {col: dict(zip(self._codes, values, strict=True)) for col, values in cells.items()})

    @property
    def table(self) -> pd.DataFrame:
        """The table as a DataFrame of text cells, indexed by integer code (``code``)."""
        if self._frame is None:
            import pandas as pd

            frame = pd.DataFrame({c: [self._cells[c][k] for k in self._codes] for c in self._columns}, dtype=str)
            frame.index = pd.Index(self._codes, name="code")
            object.__setattr__(self, "_frame", frame)
        return self._frame

    def __dask_tokenize__(self) -> object:
        """Dask's key of the table: its content (every cell), not only the dataclass fields."""
        cells = tuple((c, tuple(self._cells[c].get(k, "") for k in self._codes)) for c in self._columns)
        return ("LandcoverTable", self.path, tuple(sorted(self.units.items())), tuple(sorted(self.sources.items())),
                tuple(self._codes), cells)

    @property
    def columns(self) -> tuple[str, ...]:
        """Column names, as in the CSV (``code``, ``name_zh``, ``name_en``, ``ecosystem``, coefficients)."""
        return self._columns

    def cell(self, code: int, column: str) -> str:
        """The text of one cell (KeyError for an unknown code or column)."""
        return self._cells[column][int(code)]

    @classmethod
    def from_csv(cls, path: str | Path, meta_path: str | Path | None = None) -> LandcoverTable:
        """Read ``code, name_zh, name_en, ecosystem, <coefficient columns>`` and its meta file.

        The meta file (default: ``<name>.meta.csv`` beside it) has ``column, unit, source``.
        """
        path = Path(path)
        meta_path = Path(meta_path) if meta_path else path.with_suffix(".meta.csv")
        df = read_csv_rows(path, ["code", "name_zh", "name_en", "ecosystem"], what="land-cover table", what_zh="土地覆被参数表")
        meta = read_csv_rows(meta_path, ["column", "unit", "source"], what="land-cover meta table", what_zh="土地覆被参数说明表")
        codes = []
        for i, c in enumerate(df.column("code"), start=2):
            codes.append(int(parse_float(c, path=path, field="code", row=i, what_zh="土地覆被参数表")))
        if len(set(codes)) != len(codes):
            dup = sorted({c for c in codes if codes.count(c) > 1})
            raise InputError(
                f"Duplicate land-cover code(s) {dup}",
                f"土地覆被代码重复：{dup}",
                file=path,
                field="code",
                fix="Keep one row per code.",
                fix_zh="每个代码只保留一行。",
            )
        bad = sorted(set(df.column("ecosystem")) - set(ECOSYSTEM_IDS))
        if bad:
            raise InputError(
                f"Unknown ecosystem type(s) {bad}",
                f"未知生态系统类型：{bad}",
                file=path,
                field="ecosystem",
                fix=f"Use one of: {', '.join(ECOSYSTEM_IDS)}.",
                fix_zh=f"可用类型：{', '.join(ECOSYSTEM_IDS)}。",
            )
        units = {r["column"]: r["unit"] or "1" for r in meta.records()}
        sources = {r["column"]: r["source"] for r in meta.records()}
        coef_cols = [c for c in df.columns if c not in ("code", "name_zh", "name_en", "ecosystem", "subtype")]
        undocumented = [c for c in coef_cols if c not in units]
        if undocumented:
            raise InputError(
                f"Column(s) {undocumented} have no unit/source in {meta_path.name}",
                f"列 {undocumented} 在 {meta_path.name} 中缺少单位和来源",
                file=meta_path,
                field=undocumented[0],
                fix="Add a row 'column,unit,source' for every coefficient column.",
                fix_zh="请为每个系数列添加一行 '列名,单位,来源'。",
            )
        return cls(table=df, units=units, sources=sources, path=str(path))

    @property
    def codes(self) -> list[int]:
        """The land-cover codes the table knows."""
        return list(self._codes)

    def ecosystem_of(self, code: int) -> str:
        """First-level ecosystem type of a land-cover code (a second-level entry rolls up)."""
        self.check_codes(np.array([code]))
        return top_ecosystem(self.cell(code, "ecosystem"))

    def check_codes(self, codes: np.ndarray, *, raster: str = "lulc") -> None:
        """Raise naming the first land-cover code present in the raster but not in the table."""
        present = set(unique_codes(codes).tolist())
        unknown = sorted(present - set(self.codes))
        if unknown:
            raise InputError(
                f"Land-cover code(s) {unknown[:10]} in raster '{raster}' are not in the land-cover table",
                f"土地覆被栅格 '{raster}' 中的代码 {unknown[:10]} 不在土地覆被参数表中",
                file=self.path,
                field="code",
                fix="Add a row for each code (with its ecosystem type and coefficients), or set the pixels to nodata.",
                fix_zh="请为每个代码添加一行（生态系统类型与系数），或将这些像元设为无数据。",
            )

    def lookup(self, codes: np.ndarray, column: str, unit: str, *, fill: float = np.nan) -> np.ndarray:
        """Per-pixel coefficient: ``codes`` (int array) → values of ``column`` in ``unit``.

        Cells whose code is negative (nodata) get ``fill``. Empty cells in the table are errors
        for codes present in the raster.
        """
        if column not in self.columns:
            raise MissingParameterError(
                f"Land-cover table has no column '{column}'",
                f"土地覆被参数表缺少列 '{column}'",
                file=self.path,
                field=column,
                fix=f"Add a column '{column}' (unit {unit}) and document it in the .meta.csv.",
                fix_zh=f"请添加列 '{column}'（单位 {unit}），并在 .meta.csv 中说明。",
            )
        valid = _valid_codes(codes)
        present = unique_codes(codes if valid is None else codes[valid])  # once: check + empty cells
        self.check_codes(present)
        factor = conversion_factor(self.units[column], unit)
        lut_codes = np.array(self.codes, dtype=np.int64)
        values = np.full(lut_codes.shape, np.nan)
        for j, c in enumerate(lut_codes):
            cell = self.cell(c, column).strip()
            if cell == "":
                if c in present:
                    raise MissingParameterError(
                        f"Land-cover code {c} ({self.cell(c, 'name_en')}) has no value for '{column}'",
                        f"土地覆被代码 {c}（{self.cell(c, 'name_zh')}）缺少 '{column}' 的值",
                        file=self.path,
                        field=column,
                        fix=f"Fill the '{column}' cell of code {c}.",
                        fix_zh=f"请填写代码 {c} 的 '{column}' 值。",
                    )
                continue
            values[j] = parse_float(cell, path=self.path, field=column, row=j + 2, what_zh="土地覆被参数表") * factor
        return _take_by_code(lut_codes, values, codes, valid, fill)

    def ecosystem_index(self, codes: np.ndarray) -> np.ndarray:
        """Per-pixel index into :data:`ECOSYSTEMS` (−1 for nodata)."""
        eco = np.array([ECOSYSTEMS.index(top_ecosystem(str(e))) for e in self._cells["ecosystem"].values()], dtype=np.int16)
        lut_codes = np.array(self.codes, dtype=np.int64)
        valid = _valid_codes(codes)
        self.check_codes(unique_codes(codes if valid is None else codes[valid]))
        return _take_by_code(lut_codes, eco, codes, valid, -1).astype(np.int16)


@dataclass(frozen=True)
class ParamSet:
    """What a quantity function reads its coefficients from."""

    scalars: ParameterTable
    landcover: LandcoverTable | None = None
    options: Mapping[str, object] = field(default_factory=dict)

    def scalar(self, key: str, unit: str) -> float:
        """Scalar parameter ``key`` in ``unit``."""
        return self.scalars.get(key, unit)

    def by_class(self, lulc: np.ndarray, column: str, unit: str) -> np.ndarray:
        """Per-pixel coefficient from the land-cover table."""
        if self.landcover is None:
            raise MissingParameterError(
                f"A land-cover table is needed for '{column}'",
                f"计算 '{column}' 需要土地覆被参数表",
                field="landcover_table",
                fix="Set [tables] landcover = 'PATH.csv' in the config.",
                fix_zh="请在配置文件 [tables] 中设置 landcover = 'PATH.csv'。",
            )
        return self.landcover.lookup(lulc, column, unit)

    def option(self, key: str, default: object) -> object:
        """A method option from the profile or config (e.g. ``runoff_alpha_table``)."""
        return self.options.get(key, default)
