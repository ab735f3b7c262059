"""The data catalogue 数据目录: every dataset the platform holds, with its metadata and version history.

An **entry** is one dataset — boundaries, a raster of one variable (and year), a parameter, price,
land-cover, deflator, products or statistics table, a statistical form (an approved submission) or a
published result — with its title (zh/en), holding department, region, year, unit, source, licence,
CRS and resolution (rasters), and who may read it: ``public``, or the holding department and the
departments it names (``visibility = "departments"``). Every **version** keeps its bytes (in
``uploads``) and SHA-256; a version is a ``draft`` until someone of the holding department other than
its uploader (or an admin) approves it.

Who reads what
    * approved versions: whoever the entry's visibility allows; accountants and admins (logins, not
      tokens) read every approved version, as they account from approved data;
    * draft (unapproved) versions: only logins of the holding department and admins — never another
      department, a token or the public;
    * API tokens (:mod:`qingshan.platform.tokens`) need the scope ``read:results`` (results) or
      ``read:data`` (other datasets) and, when they name regions, an entry of an overlapping region.

Where entries come from
    :func:`register_base` records the files of a base configuration (the embedded example or a
    registered config) as approved versions; an approved form or raster submission becomes a version
    of its entry (:func:`register_submission`, in the approval's transaction); publishing a run
    records it as a result entry and withdrawing it withdraws that version (:func:`register_result`);
    departments create entries and upload versions through the API (:func:`create_entry`,
    :func:`add_version`). Every change is audit-logged.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from qingshan.core.errors import InputError
from qingshan.core.limits import Limits, check_bytes, check_raster_file, current_limits
from qingshan.io.rasters import scratch_name
from qingshan.platform.accounts import Principal, in_region_scope
from qingshan.platform.audit import Actor, record
from qingshan.platform.errors import NotFoundError, PermissionDeniedError, StateError
from qingshan.store.db import one_writer_at_a_time
from qingshan.store.platform_models import (
    CatalogEntry,
    CatalogVersion,
    FormSubmission,
    SubmissionVersion,
    Upload,
    User,
)

__all__ = [
    "KINDS",
    "TABLE_KINDS",
    "VersionFile",
    "add_version",
    "approve_version",
    "can_read_approved",
    "can_read_drafts",
    "create_entry",
    "entry_dict",
    "get_entry",
    "list_entries",
    "read_version",
    "register_base",
    "register_result",
    "register_submission",
    "sync_results",
    "update_entry",
    "version_rows",
]

TABLE_KINDS = ("parameters", "landcover", "prices", "deflator", "statistics", "products")
KINDS = ("boundaries", "raster", *TABLE_KINDS, "landcover_meta", "submission", "result")
UPLOADABLE = ("boundaries", "raster", *TABLE_KINDS, "landcover_meta")  # submissions and results are registered by the platform
KIND_ZH = {"boundaries": "行政区划边界", "raster": "栅格", "parameters": "参数表", "landcover": "土地覆被对照表",
           "prices": "价格表", "deflator": "价格指数表", "statistics": "统计数据表", "products": "产品表",
           "landcover_meta": "土地覆被表说明（单位与来源）",
           "submission": "统计报表", "result": "核算结果"}
VISIBILITY = ("public", "departments")
DATA_EDITORS = ("submitter", "reviewer", "accountant", "admin")  # may create entries and upload versions
APPROVERS = ("reviewer", "accountant", "admin")
STAFF = ("accountant", "admin")  # read every approved version (they account from it)
PLATFORM_DEPARTMENT = "平台 platform"
MAX_DEPARTMENTS = 50
_REGION = re.compile(r"\d{6}")
_SUFFIX_TYPES = {".tif": "image/tiff", ".tiff": "image/tiff", ".csv": "text/csv", ".geojson": "application/geo+json",
                 ".json": "application/json", ".gpkg": "application/geopackage+sqlite3",
                 ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
_KIND_SUFFIXES = {"boundaries": (".geojson", ".json", ".gpkg"), "raster": (".tif", ".tiff"),
                  **dict.fromkeys((*TABLE_KINDS, "landcover_meta"), (".csv",))}


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)  # SQLite returns naive UTC


def _sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


# ----------------------------------------------------------------------------- who reads what
def _is_token(principal: Principal | None) -> bool:
    return principal is not None and principal.scopes is not None


def _token_allows(principal: Principal, entry: CatalogEntry) -> bool:
    scopes = principal.scopes or ()
    if ("read:results" if entry.kind == "result" else "read:data") not in scopes:
        return False
    if principal.regions and "*" not in principal.regions and entry.region:
        overlap = in_region_scope(entry.region, principal.regions) or any(
            in_region_scope(r, [entry.region]) for r in principal.regions)
        if not overlap:
            return False
    return entry.visibility == "public" or (bool(principal.department) and (
        principal.department == entry.department or principal.department in (entry.departments or [])))


def can_read_approved(principal: Principal | None, entry: CatalogEntry) -> bool:
    """Whether ``principal`` (``None``: the public) may read the entry's approved versions."""
    if _is_token(principal):
        assert principal is not None
        return _token_allows(principal, entry)
    if entry.visibility == "public":
        return True
    if principal is None:
        return False
    if principal.role in STAFF:
        return True
    dept = principal.department
    return bool(dept) and (dept == entry.department or dept in (entry.departments or []))


def can_read_drafts(principal: Principal | None, entry: CatalogEntry) -> bool:
    """Whether ``principal`` may see the entry's unapproved versions: a login of the holding department
    or an admin; never a token, another department or the public."""
    if principal is None or _is_token(principal):
        return False
    return principal.role == "admin" or (bool(principal.department) and principal.department == entry.department)


def _may_edit(principal: Principal, entry: CatalogEntry) -> bool:
    return not _is_token(principal) and (principal.role == "admin" or (
        principal.role in DATA_EDITORS and bool(principal.department) and principal.department == entry.department))


def _visible_versions(principal: Principal | None, entry: CatalogEntry,
                      versions: list[CatalogVersion]) -> list[CatalogVersion]:
    drafts, approved = can_read_drafts(principal, entry), can_read_approved(principal, entry)
    return [v for v in versions if (v.status == "approved" and (approved or drafts)) or
            (v.status != "approved" and drafts)]


# ----------------------------------------------------------------------------- views
def version_rows(s: Session, entry_id: int) -> list[CatalogVersion]:
    """All versions of an entry, oldest first."""
    return list(s.scalars(select(CatalogVersion).where(CatalogVersion.entry_id == entry_id)
                          .order_by(CatalogVersion.version)))


def _version_dict(v: CatalogVersion) -> dict[str, Any]:
    return {"version": v.version, "status": v.status, "sha256": v.sha256, "size": v.size, "filename": v.filename,
            "note": v.note, "created_by": v.created_by, "created_at": v.created_at, "approved_by": v.approved_by,
            "approved_at": v.approved_at, "run_id": v.run_id}


def entry_dict(entry: CatalogEntry, versions: list[CatalogVersion]) -> dict[str, Any]:
    """An entry with its metadata and the given versions (already filtered for the reader)."""
    approved = [v for v in versions if v.status == "approved"]
    return {"id": entry.id, "key": entry.key, "kind": entry.kind, "kind_zh": KIND_ZH.get(entry.kind, entry.kind),
            "variable": entry.variable, "title_zh": entry.title_zh, "title_en": entry.title_en,
            "department": entry.department, "region": entry.region, "year": entry.year, "unit": entry.unit,
            "source": entry.source, "licence": entry.licence, "crs": entry.crs, "resolution": entry.resolution,
            "visibility": entry.visibility, "departments": list(entry.departments or []),
            "extra": dict(entry.extra or {}), "created_by": entry.created_by, "created_at": entry.created_at,
            "latest_approved": approved[-1].version if approved else None,
            "versions": [_version_dict(v) for v in versions]}


def _not_found(entry_id: object, version: int | None = None) -> NotFoundError:
    what = f"catalogue entry {entry_id}" + (f" version {version}" if version is not None else "")
    what_zh = f"数据目录条目 {entry_id}" + (f" 第 {version} 版" if version is not None else "")
    return NotFoundError(f"No {what} (or it is not shared with you)", f"没有{what_zh}（或未向您共享）",
                         field="version" if version is not None else "entry_id",
                         fix="List the catalogue with GET /api/catalog; ask the holding department to share or "
                             "approve it.",
                         fix_zh="请用 GET /api/catalog 查看数据目录；如需使用请联系数据所属部门共享或审核。")


def _matches(entry: CatalogEntry, q: str | None) -> bool:
    if not q:
        return True
    text = " ".join(str(x or "") for x in (entry.key, entry.title_zh, entry.title_en, entry.department,
                                           entry.source, entry.variable, entry.region, entry.year)).casefold()
    return all(word in text for word in q.casefold().split())


def list_entries(factory: sessionmaker[Session], principal: Principal | None, *, q: str | None = None,
                 kind: str | None = None, department: str | None = None, region: str | None = None,
                 year: int | None = None, variable: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
    """The entries ``principal`` may see with at least one version it may read, filtered by the words
    of ``q`` (title, key, department, source), kind, department, region (an entry of the region or of
    one it lies in or contains) and year (entries for that year or for every year)."""
    query = select(CatalogEntry).order_by(CatalogEntry.kind, CatalogEntry.key)
    for col, val in ((CatalogEntry.kind, kind), (CatalogEntry.department, department),
                     (CatalogEntry.variable, variable)):
        if val:
            query = query.where(col == val)
    if year is not None:
        query = query.where((CatalogEntry.year == year) | CatalogEntry.year.is_(None))
    out = []
    with factory() as s:
        for entry in s.scalars(query):
            if not _matches(entry, q) or (region and entry.region and not (
                    in_region_scope(entry.region, [region]) or in_region_scope(region, [entry.region]))):
                continue
            versions = _visible_versions(principal, entry, version_rows(s, entry.id))
            if versions or can_read_drafts(principal, entry):  # the holder sees entries still without versions
                out.append(entry_dict(entry, versions))
            if len(out) >= limit:
                break
    return out


def get_entry(factory: sessionmaker[Session], principal: Principal | None, entry_id: int) -> dict[str, Any]:
    """One entry with the versions ``principal`` may read (404 when none)."""
    with factory() as s:
        entry = s.get(CatalogEntry, entry_id)
        versions = _visible_versions(principal, entry, version_rows(s, entry_id)) if entry is not None else []
        if entry is None or not (versions or can_read_drafts(principal, entry)):
            raise _not_found(entry_id)
        return entry_dict(entry, versions)


@dataclass(frozen=True)
class VersionFile:
    """The bytes of a version and what describes them."""

    filename: str
    content_type: str
    content: bytes
    sha256: str
    entry: dict[str, Any]
    version: dict[str, Any]

    def metadata(self) -> dict[str, Any]:
        """The entry's metadata with this version's record (what a download carries beside the file)."""
        return {**{k: v for k, v in self.entry.items() if k != "versions"}, "version": self.version,
                "history": self.entry["versions"]}


def read_version(factory: sessionmaker[Session], principal: Principal | None, entry_id: int, version: int, *,
                 data_dir: Path | None = None) -> VersionFile:
    """The file of a version ``principal`` may read, with the entry's metadata. An unapproved version is
    served only to its holding department (404 to anyone else, as if it did not exist). The bytes are
    checked against the recorded SHA-256 before they are served."""
    from qingshan.store.models import Run

    with factory() as s:
        entry = s.get(CatalogEntry, entry_id)
        rows = version_rows(s, entry_id) if entry is not None else []
        visible = _visible_versions(principal, entry, rows) if entry is not None else []
        v = next((x for x in visible if x.version == version), None)
        if entry is None or v is None:
            raise _not_found(entry_id, version)
        meta = entry_dict(entry, visible)
        if v.run_id is not None:
            from qingshan.store.artifacts import artifact_file

            run = s.get(Run, v.run_id)
            if run is None:
                raise _not_found(entry_id, version)
            path, art = artifact_file(run, data_dir, "results.csv")
            name, content, ctype = "results.csv", path.read_bytes(), "text/csv"
            expected = str(art["sha256"])
        else:
            up = s.get(Upload, v.upload_id) if v.upload_id else None
            if up is None:
                raise _not_found(entry_id, version)
            name, content, ctype, expected = up.filename, up.content, up.content_type, v.sha256
    if _sha(content) != expected:
        raise StateError(f"The stored file of catalogue entry {entry_id} version {version} does not match its "
                         "recorded SHA-256; it is not served",
                         f"数据目录条目 {entry_id} 第 {version} 版的存储文件与登记的 SHA-256 不符，已拒绝提供",
                         field="sha256", fix="Restore the store from a backup (qingshan restore).",
                         fix_zh="请从备份恢复数据库（qingshan restore）。")
    return VersionFile(name, ctype, content, expected, meta, _version_dict(v))


# ----------------------------------------------------------------------------- checks
def _bad(en: str, zh: str, field_: str, fix: str, fix_zh: str) -> InputError:
    return InputError(en, zh, field=field_, fix=fix, fix_zh=fix_zh)


def _check_meta(meta: Mapping[str, Any]) -> None:
    from qingshan.core.variables import VARIABLES

    kind = meta.get("kind")
    if kind not in UPLOADABLE:
        raise _bad(f"Unknown catalogue kind '{kind}'", f"未知的数据目录类型“{kind}”", "kind",
                   f"Use one of: {', '.join(UPLOADABLE)} (forms and results are registered by the platform).",
                   f"可用类型：{', '.join(UPLOADABLE)}（报表与核算结果由平台自动登记）。")
    if kind == "raster" and meta.get("variable") not in VARIABLES:
        raise _bad(f"Unknown raster variable '{meta.get('variable')}'", f"未知的栅格变量“{meta.get('variable')}”",
                   "variable", f"Use one of: {', '.join(sorted(VARIABLES))}.",
                   f"可用变量：{', '.join(sorted(VARIABLES))}。")
    region = meta.get("region")
    if region is not None and not _REGION.fullmatch(str(region)):
        raise _bad(f"Not a region code: '{region}'", f"不是有效的区划代码：“{region}”", "region",
                   "Give a 6-digit GB/T 2260 code, e.g. 360000 for Jiangxi.", "请填写 6 位 GB/T 2260 区划代码，如江西省 360000。")
    _check_visibility(meta.get("visibility", "departments"), meta.get("departments", []))


def _check_visibility(visibility: str, departments: Iterable[str]) -> None:
    if visibility not in VISIBILITY:
        raise _bad(f"Unknown visibility '{visibility}'", f"未知的共享范围“{visibility}”", "visibility",
                   "Use 'public' or 'departments' (the holding department and those listed).",
                   "请使用 public（公开）或 departments（本部门及所列部门）。")
    depts = list(departments)
    if len(depts) > MAX_DEPARTMENTS or any(not str(d).strip() or len(str(d)) > 80 for d in depts):
        raise _bad(f"At most {MAX_DEPARTMENTS} departments of 1–80 characters each",
                   f"最多 {MAX_DEPARTMENTS} 个部门，每个 1–80 个字符", "departments",
                   "List the departments by name, e.g. [\"水利局\", \"林业局\"].", "请按名称列出部门，如 [\"水利局\", \"林业局\"]。")


def _require_editor(principal: Principal, department: str) -> None:
    if _is_token(principal) or principal.role not in DATA_EDITORS or (
            principal.role != "admin" and (not principal.department or principal.department != department)):
        raise PermissionDeniedError(
            f"Only the holding department ('{department}') or an admin may change this catalogue entry",
            f"只有数据所属部门（“{department}”）或管理员可以修改该数据目录条目", field="department",
            fix="Log in with an account of that department (an administrator sets an account's department).",
            fix_zh="请使用该部门的账号登录（账号所属部门由管理员设置）。")


# ----------------------------------------------------------------------------- changes
def create_entry(factory: sessionmaker[Session], principal: Principal, meta: Mapping[str, Any]) -> dict[str, Any]:
    """A new entry held by the principal's department (an admin may name another); audit-logged."""
    _check_meta(meta)
    department = str(meta.get("department") or principal.department or "").strip()
    if principal.role != "admin" or not department:
        department = principal.department
    if not department:
        raise PermissionDeniedError("Your account has no department: catalogue entries belong to a department",
                                    "您的账号未设置所属部门：数据目录条目须属于某个部门", field="department",
                                    fix="Ask an administrator to set your department.", fix_zh="请联系管理员设置所属部门。")
    _require_editor(principal, department)
    key = str(meta.get("key") or f"{meta['kind']}:{uuid.uuid4().hex[:12]}")[:200]
    fields = {k: meta.get(k) for k in ("variable", "region", "year", "crs", "resolution")}
    entry = CatalogEntry(key=key, kind=meta["kind"], title_zh=str(meta.get("title_zh") or key)[:300],
                         title_en=str(meta.get("title_en") or key)[:300], department=department,
                         unit=str(meta.get("unit") or "")[:80], source=str(meta.get("source") or ""),
                         licence=str(meta.get("licence") or "")[:300],
                         visibility=meta.get("visibility", "departments"),
                         departments=[str(d).strip() for d in meta.get("departments", [])],
                         extra=dict(meta.get("extra") or {}), created_by=principal.username, created_at=_now(),
                         **fields)
    with factory.begin() as s:
        one_writer_at_a_time(s, "catalog_entries")  # read-then-insert: no other request in between
        if s.scalar(select(CatalogEntry.id).where(CatalogEntry.key == key)) is not None:
            from qingshan.platform.errors import ConflictError

            raise ConflictError(f"A catalogue entry '{key}' exists", f"数据目录条目“{key}”已存在", field="key",
                                fix="Add a version to it, or choose another key.", fix_zh="请为其新增版本，或换一个标识。")
        s.add(entry)
        s.flush()
        record(s, principal.actor, "catalog.create", "catalog_entry", entry.id,
               {"key": key, "kind": entry.kind, "department": department, "visibility": entry.visibility})
        return entry_dict(entry, [])


def update_entry(factory: sessionmaker[Session], principal: Principal, entry_id: int,
                 changes: Mapping[str, Any]) -> dict[str, Any]:
    """Change who may read an entry (visibility, departments) or its descriptive metadata; audit-logged."""
    allowed = ("visibility", "departments", "title_zh", "title_en", "source", "licence", "unit")
    changes = {k: v for k, v in changes.items() if v is not None}  # null: unchanged
    with factory.begin() as s:
        entry = s.get(CatalogEntry, entry_id)
        if entry is None or not (can_read_drafts(principal, entry) or can_read_approved(principal, entry)):
            raise _not_found(entry_id)
        _require_editor(principal, entry.department)
        _check_visibility(changes.get("visibility", entry.visibility),
                          changes.get("departments", entry.departments or []))
        done = {}
        for k in allowed:
            if k in changes and changes[k] is not None:
                setattr(entry, k, list(changes[k]) if k == "departments" else changes[k])
                done[k] = changes[k]
        record(s, principal.actor, "catalog.update", "catalog_entry", entry_id, done)
        return entry_dict(entry, _visible_versions(principal, entry, version_rows(s, entry_id)))


def _raster_facts(content: bytes, filename: str, limits: Limits) -> dict[str, str | None]:
    """CRS and resolution from a raster's header (refused before reading bands when over the limit)."""
    import rasterio

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / scratch_name(filename)  # never the user's name: "..", 300 bytes, "a/b"
        path.write_bytes(content)
        check_raster_file(path, limits, filename=filename)
        try:
            with rasterio.open(path) as ds:
                crs, res = ds.crs, ds.res
        except rasterio.errors.RasterioIOError:
            raise _bad(f"'{filename}' is not a readable raster", f"“{filename}”不是可读取的栅格", "file",
                       "Upload a GeoTIFF.", "请上传 GeoTIFF 文件。") from None
    if crs is None:
        raise _bad(f"The raster '{filename}' has no CRS", f"栅格“{filename}”没有坐标参考系", "crs",
                   "Assign the CRS (e.g. gdal_edit.py -a_srs EPSG:4326) and upload it again.",
                   "请为栅格设置坐标参考系（如 gdal_edit.py -a_srs EPSG:4326）后重新上传。")
    return _crs_res(crs, res)


def _crs_res(crs: Any, res: tuple[float, float]) -> dict[str, str | None]:
    from pyproj import CRS

    epsg = crs.to_epsg()
    unit = "°" if crs.is_geographic else (crs.linear_units or "m")
    if not epsg:
        p = CRS.from_wkt(crs.to_wkt())
        named = f"{p.name}, datum: {p.datum.name if p.datum else '?'}"
    return {"crs": f"EPSG:{epsg}" if epsg else named[:120],
            "resolution": f"{abs(res[0]):.6g} × {abs(res[1]):.6g} {unit}"}


def _check_file(kind: str, filename: str, content: bytes, limits: Limits) -> None:
    check_bytes(len(content), limits.upload_bytes, name="upload_bytes", file=filename,
                what=f"The file '{filename}'", what_zh=f"文件“{filename}”",
                fix="Clip or compress the file, or split the table.", fix_zh="请裁剪或压缩文件，或拆分表格。")
    suffix = Path(filename).suffix.lower()
    if not content or suffix not in _KIND_SUFFIXES.get(kind, ()):
        allowed = ", ".join(_KIND_SUFFIXES.get(kind, ()))
        raise _bad(f"'{filename}' is empty or not a {kind} file ({allowed})",
                   f"“{filename}”为空或不是{KIND_ZH.get(kind, kind)}文件（{allowed}）", "file",
                   f"Upload a {allowed} file.", f"请上传 {allowed} 文件。")
    if kind in (*TABLE_KINDS, "landcover_meta"):
        try:
            content.decode("utf-8")
        except UnicodeDecodeError:
            raise _bad(f"'{filename}' is not UTF-8 text", f"“{filename}”不是 UTF-8 文本", "file",
                       "Save the CSV as UTF-8.", "请将 CSV 另存为 UTF-8 编码。") from None


def _new_version(s: Session, entry: CatalogEntry, *, filename: str, content: bytes, by: str, status: str,
                 note: str = "", approved_by: str | None = None) -> CatalogVersion:
    n = s.scalar(select(func.max(CatalogVersion.version)).where(CatalogVersion.entry_id == entry.id)) or 0
    name = Path(filename).name[:255]
    up = Upload(id=str(uuid.uuid4()), kind="catalog", filename=name,
                content_type=_SUFFIX_TYPES.get(Path(name).suffix.lower(), "application/octet-stream"),
                size=len(content), sha256=_sha(content), content=content, uploaded_by=by, created_at=_now())
    s.add(up)
    s.flush()
    v = CatalogVersion(entry_id=entry.id, version=n + 1, status=status, sha256=up.sha256, size=len(content),
                       filename=name, upload_id=up.id, note=note[:2000], created_by=by, created_at=_now(),
                       approved_by=approved_by, approved_at=_now() if approved_by else None)
    s.add(v)
    s.flush()
    return v


def add_version(factory: sessionmaker[Session], principal: Principal, entry_id: int, filename: str, content: bytes,
                *, note: str = "", limits: Limits | None = None) -> dict[str, Any]:
    """A new draft version of an entry (holding department or admin); rasters get CRS and resolution
    from their header. Nothing is kept when a check fails."""
    limits = limits or current_limits()
    with factory() as s:
        entry = s.get(CatalogEntry, entry_id)
        if entry is None or not (can_read_drafts(principal, entry) or can_read_approved(principal, entry)):
            raise _not_found(entry_id)
        kind, department = entry.kind, entry.department
    _require_editor(principal, department)
    if kind not in UPLOADABLE:
        raise StateError(f"Versions of a {kind} entry are registered by the platform",
                         f"{KIND_ZH.get(kind, kind)}条目的版本由平台自动登记", field="kind",
                         fix="Submit the form (or publish the run) instead.", fix_zh="请通过填报（或发布核算）登记。")
    _check_file(kind, filename, content, limits)
    facts = _raster_facts(content, filename, limits) if kind == "raster" else {}
    with factory.begin() as s:
        one_writer_at_a_time(s, "catalog_entries")  # read-then-insert: no other request in between
        entry = s.get(CatalogEntry, entry_id)
        assert entry is not None
        for k, v in facts.items():
            setattr(entry, k, v)
        ver = _new_version(s, entry, filename=filename, content=content, by=principal.username, status="draft",
                           note=note)
        record(s, principal.actor, "catalog.upload", "catalog_entry", entry_id,
               {"version": ver.version, "sha256": ver.sha256, "filename": ver.filename, "size": ver.size})
        return entry_dict(entry, _visible_versions(principal, entry, version_rows(s, entry_id)))


def approve_version(factory: sessionmaker[Session], principal: Principal, entry_id: int, version: int) -> dict[str, Any]:
    """Approve a draft version (draft → approved, one conditional UPDATE: one winner, others 409): an
    approver (reviewer, accountant) of the holding department other than the uploader, or an admin."""
    with factory() as s:
        entry = s.get(CatalogEntry, entry_id)
        rows = version_rows(s, entry_id) if entry is not None else []
        v = next((x for x in rows if x.version == version), None)
        if entry is None or v is None or not can_read_drafts(principal, entry):
            raise _not_found(entry_id, version)
        uploader, status, vid = v.created_by, v.status, v.id
    if principal.role not in APPROVERS:
        raise PermissionDeniedError("Only reviewers, accountants and admins approve catalogue versions",
                                    "只有审核员、核算员和管理员可以审核数据目录版本", field="role",
                                    fix="Ask a reviewer of your department.", fix_zh="请联系本部门审核员。")
    if uploader == principal.username:
        raise PermissionDeniedError(f"'{uploader}' uploaded this version and cannot approve it (four-eyes rule)",
                                    f"该版本由“{uploader}”上传，上传人不能审核自己的数据（双人复核）", field="version",
                                    fix="Ask another reviewer of the department.", fix_zh="请由本部门另一位审核员审核。")
    if status != "draft":
        raise StateError(f"Version {version} is '{status}', not 'draft'", f"第 {version} 版的状态为“{status}”，不是草稿",
                         field="status", fix="Upload a new version to change the data.", fix_zh="如需修改请上传新版本。")
    with factory.begin() as s:
        res = s.execute(update(CatalogVersion).where(CatalogVersion.id == vid, CatalogVersion.status == "draft")
                        .values(status="approved", approved_by=principal.username, approved_at=_now())
                        .execution_options(synchronize_session=False))
        if res.rowcount != 1:  # type: ignore[attr-defined]
            raise StateError(f"Version {version} was approved meanwhile", f"第 {version} 版已被他人审核",
                             field="status", fix="Reload the entry.", fix_zh="请刷新后查看。")
        record(s, principal.actor, "catalog.approve", "catalog_entry", entry_id, {"version": version})
        entry = s.get(CatalogEntry, entry_id)
        assert entry is not None
        return entry_dict(entry, _visible_versions(principal, entry, version_rows(s, entry_id)))


# ----------------------------------------------------------------------------- registered by the platform
def _department_of(s: Session, username: str | None) -> str:
    if not username:
        return PLATFORM_DEPARTMENT
    dept = s.scalar(select(User.department).where(User.username == username))
    return dept or PLATFORM_DEPARTMENT


def register_submission(s: Session, sub: FormSubmission, v: SubmissionVersion) -> None:
    """Record an approved submission version in the catalogue (inside the approval's transaction): a
    raster submission as a raster entry of its variable and year, a form as a statistical-form entry."""
    from qingshan.core.variables import VARIABLES
    from qingshan.platform.forms import get_group

    entry = s.scalars(select(CatalogEntry).where(CatalogEntry.key == f"submission:{sub.id}")).first()
    if entry is None:
        creator = s.scalars(select(User).where(User.username == sub.created_by)).first()
        regions = list(creator.regions or []) if creator is not None else []
        if sub.variable:
            var = VARIABLES.get(sub.variable)
            zh, en, unit = (var.name_zh if var else sub.variable), sub.variable, (var.units if var else "")
            kind = "raster"
        else:
            group = get_group(sub.group)
            zh, en, unit, kind = group.name_zh, group.name_en, "", "submission"
        facts = (v.data or {}).get("raster") or {}
        entry = CatalogEntry(key=f"submission:{sub.id}", kind=kind, variable=sub.variable,
                             title_zh=f"{zh} {sub.year}（{sub.created_by} 填报）",
                             title_en=f"{en} {sub.year} (reported by {sub.created_by})",
                             department=_department_of(s, sub.created_by),
                             region=regions[0] if len(regions) == 1 and regions[0] != "*" else None,
                             year=sub.year, unit=unit, source=f"统计报表 form submission {sub.id} ({sub.group})",
                             licence="", visibility="departments", departments=[],
                             crs=_crs_of_wkt(facts.get("crs_wkt")),
                             extra={"submission": sub.id, "group": sub.group},
                             created_by=sub.created_by, created_at=_now())
        s.add(entry)
        s.flush()
    up = s.get(Upload, v.upload_id)
    s.add(CatalogVersion(entry_id=entry.id, version=v.version, status="approved", sha256=v.sha256,
                         size=up.size if up else 0, filename=up.filename if up else "", upload_id=v.upload_id,
                         submission_version_id=v.id, note=v.review_comment or "", created_by=v.created_by,
                         created_at=_aware(v.created_at), approved_by=v.reviewed_by,
                         approved_at=_aware(v.reviewed_at) if v.reviewed_at else _now()))
    record(s, Actor(v.reviewed_by, "reviewer"), "catalog.register", "catalog_entry", entry.id,
           {"submission": sub.id, "version": v.version, "sha256": v.sha256})


def _crs_of_wkt(wkt: str | None) -> str | None:
    if not wkt:
        return None
    try:
        from pyproj import CRS

        epsg = CRS.from_wkt(wkt).to_epsg()
        return f"EPSG:{epsg}" if epsg else None
    except Exception:  # an unusual WKT: the CRS stays unnamed
        return None


def register_result(s: Session, run_id: str, actor: Actor, action: str) -> None:
    """Keep the catalogue in step with a run's publication (inside its transaction): ``publish`` records
    (or re-approves) the result entry, ``withdraw`` withdraws its version."""
    from qingshan.store.models import Run

    entry = s.scalars(select(CatalogEntry).where(CatalogEntry.key == f"result:{run_id}")).first()
    if action == "withdraw":
        if entry is not None:
            s.execute(update(CatalogVersion).where(CatalogVersion.entry_id == entry.id)
                      .values(status="withdrawn").execution_options(synchronize_session=False))
        return
    if action != "publish":
        return
    if entry is not None:
        s.execute(update(CatalogVersion).where(CatalogVersion.entry_id == entry.id)
                  .values(status="approved", approved_by=actor.username, approved_at=_now())
                  .execution_options(synchronize_session=False))
        return
    run = s.get(Run, run_id)
    if run is None:
        return
    art = next((a for a in run.artifacts or [] if a.get("name") == "results.csv"), None)
    years = sorted(run.years or [])
    entry = CatalogEntry(key=f"result:{run_id}", kind="result", title_zh=f"核算结果：{run.name}",
                         title_en=f"Accounting result: {run.name}", department=_department_of(s, actor.username),
                         region=_top_region(s, run_id), year=years[0] if len(years) == 1 else None, unit="元 CNY",
                         source=f"Qingshan run {run_id} (profile {run.profile})", licence="",
                         visibility="public", departments=[], extra={"run_id": run_id, "years": years},
                         created_by=actor.username or "system", created_at=_now())
    s.add(entry)
    s.flush()
    s.add(CatalogVersion(entry_id=entry.id, version=1, status="approved",
                         sha256=str((art or {}).get("sha256", "")), size=int((art or {}).get("size", 0) or 0),
                         filename="results.csv", run_id=run_id, note="", created_by=actor.username or "system",
                         created_at=_now(), approved_by=actor.username or "system", approved_at=_now()))
    record(s, actor, "catalog.register", "catalog_entry", entry.id, {"run_id": run_id})


def sync_results(factory: sessionmaker[Session], actor: Actor) -> list[str]:
    """Record every published run without a result entry (runs published before migration 0006); their ids."""
    from qingshan.store.platform_models import RunPublication

    added = []
    with factory.begin() as s:
        one_writer_at_a_time(s, "catalog_entries")  # read-then-insert: no other request in between
        known = set(s.scalars(select(CatalogEntry.key).where(CatalogEntry.kind == "result")))
        for run_id in s.scalars(select(RunPublication.run_id).where(RunPublication.state == "published")):
            if f"result:{run_id}" not in known:
                register_result(s, run_id, actor, "publish")
                added.append(run_id)
    return added


def _top_region(s: Session, run_id: str) -> str | None:
    from qingshan.store.models import RunRegion

    rows = s.execute(select(RunRegion.code, RunRegion.parent).where(RunRegion.run_id == run_id)).all()
    codes = {c for c, _ in rows}
    tops = sorted(c for c, p in rows if p is None or p not in codes)
    return tops[0] if len(tops) == 1 else None


# ----------------------------------------------------------------------------- base configurations
EXAMPLE_LICENCE = ("Example data, approximate: sources and approximations in "
                   "qingshan/data/examples/jiangxi/README.md 示例数据（近似），来源与近似方法见其说明")


def _base_files(config: Any, name: str) -> list[dict[str, Any]]:
    """(key, kind, file, metadata) of every file of a run config: boundaries, rasters per year, tables."""
    from qingshan.core.variables import VARIABLES

    r = config.regions
    out: list[dict[str, Any]] = [{"key": f"base:{name}:boundaries", "kind": "boundaries", "path": Path(r.file),
                                  "title_zh": "行政区划边界", "title_en": "Administrative boundaries",
                                  "extra": {"levels": list(r.levels), "code_fields": list(r.code_fields),
                                            "name_fields": list(r.name_fields)}}]
    for var, template in sorted(config.inputs.items()):
        v = VARIABLES.get(var)
        zh, en, unit = (v.name_zh, v.description, v.units) if v else (var, var, "")
        years: list[int | None] = list(config.run.years) if "{year}" in template else [None]
        for year in years:
            suffix = "" if year is None else f" {year}"
            out.append({"key": f"base:{name}:raster:{var}" + ("" if year is None else f":{year}"), "kind": "raster",
                        "variable": var, "year": year, "unit": unit, "path": config.input_path(var, year or 0),
                        "title_zh": f"{zh}{suffix}", "title_en": f"{en} ({var}){suffix}"})
    t = config.tables
    for i, path in enumerate(t.parameters):
        out.append({"key": f"base:{name}:parameters:{i}", "kind": "parameters", "path": Path(path),
                    "title_zh": f"参数表 {Path(path).stem}", "title_en": f"Parameters {Path(path).stem}"})
    for kind in ("landcover", "prices", "deflator", "statistics", "products"):
        path = getattr(t, kind)
        if path is not None:
            out.append({"key": f"base:{name}:{kind}", "kind": kind, "path": Path(path),
                        "title_zh": f"{KIND_ZH[kind]} {Path(path).stem}", "title_en": f"{kind} table {Path(path).stem}",
                        "year": config.run.years[0] if kind == "statistics" and len(config.run.years) == 1 else None})
        meta = Path(path).with_suffix(".meta.csv")
        if kind == "landcover" and meta.is_file():  # its companion: unit and source of every column
            out.append({"key": f"base:{name}:landcover_meta", "kind": "landcover_meta", "path": meta,
                        "title_zh": f"{KIND_ZH['landcover_meta']} {meta.stem}",
                        "title_en": f"land-cover table units and sources {meta.stem}"})
    return out


def register_base(factory: sessionmaker[Session], name: str, config_path: str | Path, *, actor: Actor,
                  department: str = PLATFORM_DEPARTMENT, licence: str = "", visibility: str = "public",
                  departments: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Record every file of the base configuration ``name`` (at ``config_path``) as an approved catalogue
    version (the operator registered the config). Idempotent: a file whose bytes are the latest version's
    adds nothing; changed bytes add a new approved version. Returns what was added."""
    from qingshan.engine.config import load_config
    from qingshan.engine.run import load_regions

    config = load_config(config_path)
    _check_visibility(visibility, departments)
    regions = load_regions(config)
    top = [x.code for x in regions if x.level == config.regions.levels[0]]
    region = top[0] if len(top) == 1 else None
    added = []
    with factory.begin() as s:
        one_writer_at_a_time(s, "catalog_entries")  # read-then-insert: no other request in between
        for f in _base_files(config, name):
            content = Path(f["path"]).read_bytes()
            entry = s.scalars(select(CatalogEntry).where(CatalogEntry.key == f["key"])).first()
            if entry is None:
                facts: dict[str, Any] = {}
                if f["kind"] == "raster":
                    facts = _path_raster_facts(Path(f["path"]))
                elif f["kind"] == "boundaries" and Path(f["path"]).suffix.lower() in (".geojson", ".json"):
                    facts = {"crs": "EPSG:4326"}  # RFC 7946: GeoJSON coordinates are WGS 84
                entry = CatalogEntry(key=f["key"], kind=f["kind"], variable=f.get("variable"),
                                     title_zh=f["title_zh"][:300], title_en=f["title_en"][:300], department=department,
                                     region=region, year=f.get("year"), unit=f.get("unit", ""),
                                     source=f"base configuration {name}: {Path(f['path']).name}", licence=licence,
                                     visibility=visibility, departments=list(departments), extra=f.get("extra", {}),
                                     created_by=actor.username or "system", created_at=_now(), **facts)
                s.add(entry)
                s.flush()
            rows = version_rows(s, entry.id)
            if rows and rows[-1].sha256 == _sha(content):
                continue
            v = _new_version(s, entry, filename=Path(f["path"]).name, content=content, by=actor.username or "system",
                             status="approved", note=f"base configuration {name}", approved_by=actor.username or "system")
            record(s, actor, "catalog.register", "catalog_entry", entry.id,
                   {"key": entry.key, "version": v.version, "sha256": v.sha256, "base": name})
            added.append({"key": entry.key, "version": v.version, "sha256": v.sha256})
    return added


def _path_raster_facts(path: Path) -> dict[str, Any]:
    import rasterio

    with rasterio.open(path) as ds:
        return _crs_res(ds.crs, ds.res) if ds.crs is not None else {}
