"""Accountings assembled from catalogue entries (核算组装): no hidden base configuration.

An :class:`AssemblySpec` names every input by catalogue entry (and version; latest approved when
omitted): the boundaries, each raster variable (one entry for every year, or one per year), the
parameter, land-cover, price, deflator, statistics and products tables (statistics and prices may
list several entries — a base table and approved forms — later rows replacing earlier ones with the
same key), the profile, years, exclusions and options.

:func:`resolve` checks it for a user before anything is queued — every entry readable and approved,
kinds and years right, the profile and exclusions known — pins each version with its SHA-256, writes
the files and runs the engine's own cheap checks (plan, tables, boundaries, statistics bounds).
:func:`materialise` writes the pinned files into a folder and returns the :class:`RunConfig` the
worker runs; :func:`export_bundle` writes the same as a zip (``accounting.toml`` + files +
``assembly.json``) that ``qingshan account accounting.toml`` runs; :func:`import_bundle` reads such a
zip (or any zip of a run config and its files) back into a spec, matching files to approved
catalogue versions by SHA-256 and recording unknown files as draft entries.
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
import tomllib
import zipfile
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from qingshan.core.errors import InputError, QingshanError
from qingshan.core.limits import Limits, check_zip, current_limits
from qingshan.engine.config import Exclusion, RunConfig
from qingshan.platform.accounts import Principal
from qingshan.platform.audit import record
from qingshan.platform.catalog import (
    TABLE_KINDS,
    add_version,
    can_read_approved,
    create_entry,
    version_rows,
)
from qingshan.store.platform_models import (
    CatalogAssembly,
    CatalogEntry,
    CatalogVersion,
    SubmissionVersion,
    Upload,
)

__all__ = ["AssemblySpec", "EntryRef", "export_bundle", "get_assembly", "import_bundle", "list_assemblies",
           "materialise", "resolve", "save_assembly"]


class EntryRef(BaseModel):
    """A catalogue entry and version (``None``: the latest approved version, pinned when queued)."""

    model_config = ConfigDict(extra="forbid")

    entry: int = Field(ge=1, le=2**31 - 1)
    version: int | None = Field(None, ge=1, le=2**31 - 1)


class TablesSpec(BaseModel):
    """Table entries of an assembly."""

    model_config = ConfigDict(extra="forbid")

    parameters: list[EntryRef] = Field(default_factory=list, max_length=20)
    landcover: EntryRef | None = None
    landcover_meta: EntryRef | None = Field(None, description="the land-cover table's .meta.csv (units, sources)")
    prices: list[EntryRef] = Field(default_factory=list, max_length=200)
    deflator: EntryRef | None = None
    statistics: list[EntryRef] = Field(default_factory=list, max_length=500)
    products: EntryRef | None = None


class AssemblySpec(BaseModel):
    """An accounting assembled from catalogue entries 由数据目录组装的核算."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=200)
    profile: str = Field(max_length=100)
    years: list[int] = Field(min_length=1, max_length=50)
    base_year: int | None = Field(None, ge=1949, le=2100)
    boundaries: EntryRef
    rasters: dict[str, EntryRef | dict[str, EntryRef]] = Field(
        max_length=60, description="variable → one entry for every year, or year → entry")
    tables: TablesSpec
    exclude: list[Exclusion] = Field(default_factory=list, max_length=100)
    options: dict[str, Any] = Field(default_factory=dict, max_length=50)
    year_policy: str = Field("deflate", pattern="^(exact|deflate)$")


def _err(en: str, zh: str, field: str, fix: str, fix_zh: str) -> InputError:
    return InputError(en, zh, field=field, fix=fix, fix_zh=fix_zh)


# ----------------------------------------------------------------------------- resolving references
def _pin(s: Session, principal: Principal, ref: EntryRef, slot: str, kinds: tuple[str, ...], *,
         variable: str | None = None, year: int | None = None) -> dict[str, Any]:
    """The approved version ``ref`` names, checked for ``slot``; a bilingual 422 otherwise."""
    entry = s.get(CatalogEntry, ref.entry)
    if entry is None or not can_read_approved(principal, entry):
        raise _err(f"{slot}: catalogue entry {ref.entry} does not exist or is not shared with you",
                   f"{slot}：数据目录条目 {ref.entry} 不存在或未向您共享", slot,
                   "Choose an entry from GET /api/catalog.", "请从数据目录（GET /api/catalog）中选择。")
    approved = [v for v in version_rows(s, entry.id) if v.status == "approved"]
    v = approved[-1] if ref.version is None and approved else next(
        (x for x in approved if x.version == ref.version), None)
    if v is None:
        raise _err(f"{slot}: entry {entry.id} ('{entry.title_en}') has no approved version"
                   + ("" if ref.version is None else f" {ref.version}"),
                   f"{slot}：条目 {entry.id}（{entry.title_zh}）没有审核通过的" +
                   ("版本" if ref.version is None else f"第 {ref.version} 版"), slot,
                   "Approve the version first, or choose another.", "请先审核通过该版本，或选择其他版本。")
    if entry.kind not in kinds or (variable is not None and entry.variable != variable):
        want = f"{'/'.join(kinds)}" + (f" of variable '{variable}'" if variable else "")
        raise _err(f"{slot}: entry {entry.id} is a {entry.kind}" + (f" of '{entry.variable}'" if entry.variable else "")
                   + f", not a {want}", f"{slot}：条目 {entry.id} 的类型为 {entry.kind}，不是 {want}", slot,
                   "Choose an entry of the right kind.", "请选择类型正确的条目。")
    if year is not None and entry.year is not None and entry.year != year:
        raise _err(f"{slot}: entry {entry.id} is for {entry.year}, not {year}",
                   f"{slot}：条目 {entry.id} 是 {entry.year} 年的数据，不是 {year} 年", slot,
                   f"Choose the {year} entry of this variable.", f"请选择该变量 {year} 年的条目。")
    return {"slot": slot, "entry": entry.id, "version": v.version, "sha256": v.sha256, "key": entry.key,
            "kind": entry.kind, "filename": v.filename, "extra": dict(entry.extra or {})}


def _raster_refs(spec: AssemblySpec) -> dict[tuple[str, int], EntryRef]:
    out: dict[tuple[str, int], EntryRef] = {}
    for var, refs in spec.rasters.items():
        for year in spec.years:
            ref = refs if isinstance(refs, EntryRef) else refs.get(str(year))
            if ref is None:
                raise _err(f"Raster '{var}' has no entry for {year}", f"栅格“{var}”缺少 {year} 年的条目",
                           f"rasters.{var}", f"Choose the {year} entry of '{var}'.", f"请为“{var}”选择 {year} 年的条目。")
            out[(var, year)] = ref
    return out


def _check_profile(spec: AssemblySpec) -> None:
    from qingshan.indicators import registry

    profile = registry().profile(spec.profile)  # unknown → UnknownIndicatorError
    ids = set(profile.indicator_ids)
    unknown = [e.id for e in spec.exclude if e.id not in ids]
    if unknown:
        raise _err(f"Exclusions name indicators outside profile '{spec.profile}': {', '.join(unknown)}",
                   f"排除项不属于方法配置“{spec.profile}”：{', '.join(unknown)}", "exclude",
                   f"Exclude indicators of the profile: {', '.join(sorted(ids))}.",
                   f"请只排除该配置中的指标：{', '.join(sorted(ids))}。")


def pin(factory: sessionmaker[Session], principal: Principal, spec: AssemblySpec) -> dict[str, Any]:
    """The spec with every reference pinned to an approved version the principal may read (JSON)."""
    from qingshan.core.variables import VARIABLES

    _check_profile(spec)
    bad = sorted(v for v in spec.rasters if v not in VARIABLES)
    if bad:
        raise _err(f"Unknown raster variables: {', '.join(bad)}", f"未知的栅格变量：{', '.join(bad)}", "rasters",
                   f"Use: {', '.join(sorted(VARIABLES))}.", f"可用变量：{', '.join(sorted(VARIABLES))}。")
    years = sorted(set(spec.years))
    pinned: dict[str, Any] = {"boundaries": None, "rasters": {}, "tables": {}}
    with factory() as s:
        pinned["boundaries"] = _pin(s, principal, spec.boundaries, "boundaries", ("boundaries",))
        for (var, year), ref in _raster_refs(spec).items():
            pinned["rasters"].setdefault(var, {})[str(year)] = _pin(
                s, principal, ref, f"rasters.{var}.{year}", ("raster",), variable=var, year=year)
        t = spec.tables
        pinned["tables"]["parameters"] = [_pin(s, principal, r, "tables.parameters", ("parameters",))
                                          for r in t.parameters]
        for kind in ("landcover", "landcover_meta", "deflator", "products"):
            ref = getattr(t, kind)
            pinned["tables"][kind] = None if ref is None else _pin(s, principal, ref, f"tables.{kind}", (kind,))
        for kind in ("prices", "statistics"):
            pinned["tables"][kind] = [_pin(s, principal, r, f"tables.{kind}", (kind, "submission"))
                                      for r in getattr(t, kind)]
    if not any(p["kind"] == "prices" for p in pinned["tables"]["prices"]):
        raise _err("An accounting needs a price table", "核算需要价格表", "tables.prices",
                   "Add a price-table entry (kind 'prices') before any form.", "请先加入一个价格表条目（prices）。")
    example = any(p["key"].startswith("base:example:") for p in _all_refs(pinned))
    return {**spec.model_dump(mode="json"), "years": years, "pinned": pinned, "example": example}


def _all_refs(pinned: dict[str, Any]) -> list[dict[str, Any]]:
    out = [pinned["boundaries"]]
    out += [p for by_year in pinned["rasters"].values() for p in by_year.values()]
    for v in pinned["tables"].values():
        out += v if isinstance(v, list) else ([v] if v else [])
    return out


# ----------------------------------------------------------------------------- files
def _bytes(s: Session, ref: dict[str, Any]) -> bytes:
    v = s.scalars(select(CatalogVersion).where(CatalogVersion.entry_id == ref["entry"],
                                               CatalogVersion.version == ref["version"])).first()
    up = s.get(Upload, v.upload_id) if v is not None and v.upload_id else None
    if v is None or up is None or v.status != "approved" or hashlib.sha256(up.content).hexdigest() != ref["sha256"]:
        raise QingshanError(f"Catalogue entry {ref['entry']} version {ref['version']} is no longer approved or its "
                            "bytes changed", f"数据目录条目 {ref['entry']} 第 {ref['version']} 版已不是审核通过状态或内容已变",
                            field=ref["slot"], fix="Assemble and queue the accounting again.", fix_zh="请重新组装并发起核算。")
    return bytes(up.content)


def _rows(s: Session, ref: dict[str, Any], key: str) -> list[dict[str, Any]]:
    v = s.scalars(select(CatalogVersion).where(CatalogVersion.entry_id == ref["entry"],
                                               CatalogVersion.version == ref["version"])).first()
    sv = s.get(SubmissionVersion, v.submission_version_id) if v is not None and v.submission_version_id else None
    if sv is None or sv.status != "approved":
        raise QingshanError(f"Form entry {ref['entry']} version {ref['version']} is no longer approved",
                            f"报表条目 {ref['entry']} 第 {ref['version']} 版已不是审核通过状态", field=ref["slot"],
                            fix="Assemble the accounting again.", fix_zh="请重新组装核算。")
    return list((sv.data or {}).get(key, []))


def _merged_table(s: Session, refs: list[dict[str, Any]], dest: Path, rows_key: str, keys: list[str]) -> Path | None:
    """One CSV from table entries and form rows (later rows replace earlier ones with the same ``keys``);
    a single table entry is written byte for byte."""
    if not refs:
        return None
    if len(refs) == 1 and refs[0]["kind"] != "submission":
        dest.write_bytes(_bytes(s, refs[0]))
        return dest
    frame: pd.DataFrame | None = None
    for ref in refs:
        if ref["kind"] == "submission":
            add = pd.DataFrame(_rows(s, ref, rows_key))
        else:
            add = pd.read_csv(io.BytesIO(_bytes(s, ref)), dtype=str)
        if add.empty:
            continue
        add = add.astype(str) if frame is None else add.reindex(columns=frame.columns).astype(str)
        frame = add if frame is None else pd.concat([frame, add], ignore_index=True)
    if frame is None:
        return None
    frame = frame.drop_duplicates(subset=[k for k in keys if k in frame.columns], keep="last")
    frame.replace({"nan": ""}).to_csv(dest, index=False)
    return dest


def materialise(factory: sessionmaker[Session], pinned_spec: dict[str, Any], folder: Path, *,
                output: Path | None = None) -> RunConfig:
    """Write the pinned files into ``folder`` (relative names) and return the run config over them."""
    p = pinned_spec["pinned"]
    (folder / "rasters").mkdir(parents=True, exist_ok=True)
    (folder / "tables").mkdir(exist_ok=True)
    with factory() as s:
        b = p["boundaries"]
        boundaries = folder / f"boundaries{Path(b['filename']).suffix or '.geojson'}"
        boundaries.write_bytes(_bytes(s, b))
        inputs = {}
        for var, by_year in p["rasters"].items():
            for year, ref in by_year.items():
                (folder / "rasters" / f"{var}_{year}.tif").write_bytes(_bytes(s, ref))
            inputs[var] = str(folder / "rasters" / f"{var}_{{year}}.tif")
        t = p["tables"]
        tables: dict[str, Any] = {"parameters": []}
        for i, ref in enumerate(t["parameters"]):
            dest = folder / "tables" / f"parameters_{i}.csv"
            dest.write_bytes(_bytes(s, ref))
            tables["parameters"].append(dest)
        for kind in ("landcover", "deflator", "products"):
            if t.get(kind):
                dest = folder / "tables" / f"{kind}.csv"
                dest.write_bytes(_bytes(s, t[kind]))
                tables[kind] = dest
        if t.get("landcover_meta"):  # read by the engine beside the land-cover table
            (folder / "tables" / "landcover.meta.csv").write_bytes(_bytes(s, t["landcover_meta"]))
        tables["prices"] = _merged_table(s, t["prices"], folder / "tables" / "prices.csv", "prices",
                                         ["price_key", "price_year", "region"])
        stats = _merged_table(s, t["statistics"], folder / "tables" / "statistics.csv", "statistics",
                              ["region_code", "year", "item"])
        if stats is not None:
            tables["statistics"] = stats
    extra = b.get("extra") or {}
    years = list(pinned_spec["years"])
    base_year = pinned_spec.get("base_year")
    data = {
        "run": {"name": pinned_spec.get("name") or f"GEP {pinned_spec['profile']} {'-'.join(map(str, years))}",
                "years": years, "profile": pinned_spec["profile"],
                "base_year": base_year if base_year in years else None, "output": str(output or folder / "out")},
        "regions": {"file": str(boundaries), **{k: extra[k] for k in ("levels", "code_fields", "name_fields")
                                                if k in extra}},
        "inputs": inputs, "tables": tables, "exclude": pinned_spec.get("exclude", []),
        "options": pinned_spec.get("options", {}), "prices": {"year_policy": pinned_spec.get("year_policy", "deflate")},
    }
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        e = exc.errors()[0]
        loc = ".".join(str(x) for x in e["loc"])
        raise _err(f"The assembled accounting is not a valid run config: '{loc}': {e['msg']}",
                   f"组装的核算不是有效的核算配置：“{loc}”：{e['msg']}", loc,
                   "Check the options and exclusions.", "请检查选项与排除项。") from None


def preflight(config: RunConfig) -> None:
    """The engine's own checks that need no computation: profile and inputs (plan), tables, boundaries,
    statistics bounds. Raises the engine's bilingual errors."""
    from qingshan.engine.run import check_statistics, load_regions, load_tables, plan

    p = plan(config)
    tables = load_tables(config, p)
    check_statistics(tables, load_regions(config))


def resolve(factory: sessionmaker[Session], principal: Principal, spec: AssemblySpec) -> dict[str, Any]:
    """Check an assembly for ``principal`` and return it pinned; nothing is queued or kept."""
    pinned = pin(factory, principal, spec)
    with tempfile.TemporaryDirectory() as tmp:
        preflight(materialise(factory, pinned, Path(tmp)))
    return pinned


# ----------------------------------------------------------------------------- bundles
def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(str(k), ensure_ascii=False)} = {_toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"no TOML form for {type(v).__name__}")


def config_toml(config: RunConfig, root: Path) -> str:
    """``config`` as TOML with paths relative to ``root`` (the bundle folder)."""
    def rel(p: Any) -> str:
        return Path(p).relative_to(root).as_posix()

    lines = ["# Assembled from the Qingshan data catalogue 由数据目录组装; run with: qingshan account accounting.toml",
             f"exclude = {_toml_value([e.model_dump() for e in config.exclude])}", "", "[run]"]
    r = config.run
    lines += [f"name = {_toml_value(r.name)}", f"years = {_toml_value(r.years)}",
              f"profile = {_toml_value(r.profile)}", 'output = "out"']
    if r.base_year is not None:
        lines.append(f"base_year = {r.base_year}")
    g = config.regions
    lines += ["", "[regions]", f"file = {_toml_value(rel(g.file))}", f"levels = {_toml_value(g.levels)}",
              f"code_fields = {_toml_value(g.code_fields)}", f"name_fields = {_toml_value(g.name_fields)}",
              "", "[inputs]"]
    lines += [f"{k} = {_toml_value(rel(v))}" for k, v in sorted(config.inputs.items())]
    lines += ["", "[tables]"]
    for k, v in config.tables.model_dump().items():
        if isinstance(v, list):
            lines.append(f"{k} = {_toml_value([rel(x) for x in v])}")
        elif v is not None:
            lines.append(f"{k} = {_toml_value(rel(v))}")
    if config.options:
        lines += ["", "[options]"] + [f"{k} = {_toml_value(v)}" for k, v in config.options.items()]
    lines += ["", "[prices]", f"year_policy = {_toml_value(config.prices.year_policy)}", ""]
    return "\n".join(lines)


def export_bundle(factory: sessionmaker[Session], pinned_spec: dict[str, Any]) -> bytes:
    """A zip of ``accounting.toml``, its files and ``assembly.json`` (the pinned spec with SHA-256s)."""
    from qingshan.engine.config import load_config

    buf = io.BytesIO()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        config = materialise(factory, pinned_spec, root, output=root / "out")
        (root / "accounting.toml").write_text(config_toml(config, root), encoding="utf-8")
        load_config(root / "accounting.toml")  # what `qingshan account` will read
        (root / "assembly.json").write_text(json.dumps(pinned_spec, ensure_ascii=False, indent=1), encoding="utf-8")
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for path in sorted(root.rglob("*")):
                if path.is_file():
                    z.write(path, path.relative_to(root).as_posix())
    return buf.getvalue()


def _bundle_member(z: zipfile.ZipFile, names: set[str], rel: str, field: str) -> bytes:
    name = PurePosixPath(rel).as_posix()
    if name.startswith("/") or ".." in PurePosixPath(name).parts or name not in names:
        raise _err(f"The config names '{rel}' ({field}), which is not a file of the zip",
                   f"配置中的“{rel}”（{field}）不是压缩包中的文件", field,
                   "Zip the config with every file it names, by relative path.", "请将配置及其引用的全部文件（相对路径）一起打包。")
    return z.read(name)


def _find_or_create(factory: sessionmaker[Session], principal: Principal, content: bytes, kind: str, *,
                    filename: str, variable: str | None, year: int | None, report: dict[str, list]) -> dict[str, Any]:
    """An entry ref for these bytes: an approved version with the same SHA-256 the principal may read, else a
    new draft entry of the principal's department (to be approved before the accounting can be queued)."""
    sha = hashlib.sha256(content).hexdigest()
    with factory() as s:
        for v in s.scalars(select(CatalogVersion).where(CatalogVersion.sha256 == sha,
                                                        CatalogVersion.status == "approved")):
            entry = s.get(CatalogEntry, v.entry_id)
            if entry is not None and entry.kind == kind and (kind != "raster" or entry.variable == variable) \
                    and (year is None or entry.year in (None, year)) and can_read_approved(principal, entry):
                report["matched"].append({"entry": entry.id, "version": v.version, "file": filename, "sha256": sha})
                return {"entry": entry.id, "version": v.version}
    title = f"{variable or kind} {year or ''} ({filename})".strip()
    meta = {"kind": kind, "variable": variable, "year": year, "title_zh": f"导入：{title}", "title_en": f"Imported: {title}",
            "source": f"imported with an accounting config ({filename})"}
    created = create_entry(factory, principal, meta)
    done = add_version(factory, principal, created["id"], filename, content)
    report["created"].append({"entry": created["id"], "version": done["versions"][-1]["version"], "file": filename,
                              "sha256": sha})
    return {"entry": created["id"], "version": done["versions"][-1]["version"]}


def import_bundle(factory: sessionmaker[Session], principal: Principal, content: bytes, *,
                  limits: Limits | None = None) -> dict[str, Any]:
    """A spec from a zip of a run config (``*.toml`` at the top) and the files it names by relative path.

    Files equal (SHA-256) to an approved catalogue version the principal may read are referenced as that
    version; the others become draft entries of the principal's department, listed under ``created``:
    they must be approved before the accounting can be queued."""
    limits = limits or current_limits()
    check_zip(content, limits, filename="bundle.zip", kind="zip")
    try:
        z = zipfile.ZipFile(io.BytesIO(content))
    except zipfile.BadZipFile:
        raise _err("The upload is not a zip file", "上传的文件不是 zip 压缩包", "file",
                   "Upload a zip of the run config and its files.", "请上传包含核算配置及其文件的 zip 压缩包。") from None
    names = set(z.namelist())
    tomls = sorted(n for n in names if n.endswith(".toml") and "/" not in n)
    if not tomls:
        raise _err("The zip has no run config (*.toml) at its top level", "压缩包顶层没有核算配置（*.toml）", "file",
                   "Put the config (e.g. accounting.toml) at the top of the zip.", "请将配置文件（如 accounting.toml）放在压缩包顶层。")
    try:
        data = tomllib.loads(z.read(tomls[0]).decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise _err(f"{tomls[0]} is not a valid TOML file: {exc}", f"{tomls[0]} 不是有效的 TOML 文件", "file",
                   "Fix the config's syntax.", "请修正配置文件的语法。") from None
    report: dict[str, list] = {"matched": [], "created": []}
    run, tables_in = data.get("run", {}), data.get("tables", {})
    years = [int(y) for y in run.get("years", [])]

    def ref(rel: str, kind: str, field: str, variable: str | None = None, year: int | None = None) -> dict[str, Any]:
        body = _bundle_member(z, names, rel, field)
        return _find_or_create(factory, principal, body, kind, filename=PurePosixPath(rel).name, variable=variable,
                               year=year, report=report)

    regions = data.get("regions", {})
    boundaries = ref(str(regions.get("file", "")), "boundaries", "regions.file")
    rasters: dict[str, Any] = {}
    for var, template in data.get("inputs", {}).items():
        if "{year}" in template:
            rasters[var] = {str(y): ref(template.replace("{year}", str(y)), "raster", f"inputs.{var}", var, y)
                            for y in years}
        else:
            rasters[var] = ref(template, "raster", f"inputs.{var}", var)
    tables: dict[str, Any] = {"parameters": [ref(p, "parameters", "tables.parameters") for p in
                                             tables_in.get("parameters", [])]}
    for kind in TABLE_KINDS:
        if kind != "parameters" and tables_in.get(kind):
            r = ref(tables_in[kind], kind, f"tables.{kind}")
            tables[kind] = [r] if kind in ("prices", "statistics") else r
    meta = str(PurePosixPath(str(tables_in.get("landcover", ""))).with_suffix(".meta.csv"))
    if tables_in.get("landcover") and meta in names:
        tables["landcover_meta"] = ref(meta, "landcover_meta", "tables.landcover")
    spec = {"name": run.get("name"), "profile": run.get("profile", ""), "years": years,
            "base_year": run.get("base_year"), "boundaries": boundaries, "rasters": rasters, "tables": tables,
            "exclude": data.get("exclude", []), "options": data.get("options", {}),
            "year_policy": data.get("prices", {}).get("year_policy", "deflate")}
    try:
        AssemblySpec.model_validate(spec)
    except ValidationError as exc:
        e = exc.errors()[0]
        loc = ".".join(str(x) for x in e["loc"])
        raise _err(f"{tomls[0]}: field '{loc}': {e['msg']}", f"{tomls[0]}：字段“{loc}”有误：{e['msg']}", loc,
                   "See docs/config.md.", "字段说明见 docs/config.md。") from None
    return {"spec": spec, **report}


# ----------------------------------------------------------------------------- saved assemblies
def _assembly_dict(a: CatalogAssembly) -> dict[str, Any]:
    return {"id": a.id, "name": a.name, "spec": a.spec, "created_by": a.created_by, "created_at": a.created_at}


def save_assembly(factory: sessionmaker[Session], principal: Principal, spec: AssemblySpec) -> dict[str, Any]:
    """Check the assembly (as :func:`resolve`) and keep it under its name; audit-logged."""
    resolve(factory, principal, spec)
    row = CatalogAssembly(name=(spec.name or f"{spec.profile} {'-'.join(map(str, spec.years))}")[:200],
                          spec=spec.model_dump(mode="json"), created_by=principal.username,
                          created_at=datetime.now(UTC))
    with factory.begin() as s:
        s.add(row)
        s.flush()
        record(s, principal.actor, "assembly.save", "assembly", row.id, {"name": row.name})
        return _assembly_dict(row)


def list_assemblies(factory: sessionmaker[Session], limit: int = 200) -> list[dict[str, Any]]:
    """Saved assemblies, newest first."""
    with factory() as s:
        return [_assembly_dict(a) for a in s.scalars(select(CatalogAssembly).order_by(CatalogAssembly.id.desc())
                                                     .limit(limit))]


def get_assembly(factory: sessionmaker[Session], assembly_id: int) -> dict[str, Any]:
    """One saved assembly, or a bilingual 404."""
    from qingshan.platform.errors import NotFoundError

    with factory() as s:
        a = s.get(CatalogAssembly, assembly_id)
        if a is None:
            raise NotFoundError(f"No saved accounting {assembly_id}", f"没有已保存的核算组装 {assembly_id}",
                                field="assembly_id", fix="List them with GET /api/assemblies.",
                                fix_zh="用 GET /api/assemblies 查看。")
        return _assembly_dict(a)
