"""The data catalogue 数据目录, accountings assembled from it, and API tokens for other systems."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from qingshan.api.deps import PrincipalDep, SettingsDep, StoreDep, require_role
from qingshan.api.download import attachment
from qingshan.api.platform_schemas import JobOut
from qingshan.platform import assembly as asm
from qingshan.platform import catalog as svc
from qingshan.platform import tokens as tok
from qingshan.platform.accounts import Principal
from qingshan.platform.assembly import AssemblySpec

__all__ = ["router"]

router = APIRouter(tags=["catalog"])
Editor = Annotated[Principal, require_role("submitter", "reviewer", "accountant")]
Approver = Annotated[Principal, require_role("reviewer", "accountant")]
Accountant = Annotated[Principal, require_role("accountant")]
Admin = Annotated[Principal, require_role("admin")]
MAX_ID = 2**31 - 1
EntryId = Annotated[int, PathParam(ge=1, le=MAX_ID, description="Catalogue entry id 条目编号")]
Version = Annotated[int, PathParam(ge=1, le=MAX_ID, description="Version 版本号")]
Department = Annotated[str, Field(min_length=1, max_length=80)]


class VersionOut(BaseModel):
    """One version of a catalogue entry."""

    version: int
    status: str = Field(description="draft | approved | withdrawn")
    sha256: str
    size: int
    filename: str
    note: str
    created_by: str
    created_at: Any
    approved_by: str | None
    approved_at: Any
    run_id: str | None = None


class EntryOut(BaseModel):
    """A catalogue entry with its metadata and the versions the reader may see."""

    id: int
    key: str
    kind: str
    kind_zh: str
    variable: str | None
    title_zh: str
    title_en: str
    department: str
    region: str | None
    year: int | None
    unit: str
    source: str
    licence: str
    crs: str | None
    resolution: str | None
    visibility: str
    departments: list[str]
    extra: dict[str, Any]
    created_by: str
    created_at: Any
    latest_approved: int | None
    versions: list[VersionOut]


class EntryIn(BaseModel):
    """A new catalogue entry 新建数据目录条目 (its versions are uploaded next)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["boundaries", "raster", "parameters", "landcover", "landcover_meta", "prices", "deflator", "statistics",
                  "products"]
    key: str | None = Field(None, max_length=200, pattern=r"^[\w:.\-]+$")
    variable: str | None = Field(None, max_length=60)
    title_zh: str = Field(min_length=1, max_length=300)
    title_en: str = Field(min_length=1, max_length=300)
    department: str | None = Field(None, max_length=80, description="admins only; default: your department")
    region: str | None = Field(None, max_length=6)
    year: int | None = Field(None, ge=1949, le=2100)
    unit: str = Field("", max_length=80)
    source: str = Field("", max_length=2000)
    licence: str = Field("", max_length=300)
    visibility: Literal["public", "departments"] = "departments"
    departments: list[Department] = Field(default_factory=list, max_length=50)
    extra: dict[str, Any] = Field(default_factory=dict, max_length=20)


class EntryPatch(BaseModel):
    """Who may read an entry, and its descriptive metadata 修改共享范围与说明."""

    model_config = ConfigDict(extra="forbid")

    visibility: Literal["public", "departments"] | None = None
    departments: list[Department] | None = Field(None, max_length=50)
    title_zh: str | None = Field(None, min_length=1, max_length=300)
    title_en: str | None = Field(None, min_length=1, max_length=300)
    source: str | None = Field(None, max_length=2000)
    licence: str | None = Field(None, max_length=300)
    unit: str | None = Field(None, max_length=80)


# ----------------------------------------------------------------------------- catalogue
@router.get("/api/catalog", summary="Browse the data catalogue · 数据目录")
def list_catalog(
    store: StoreDep,
    principal: PrincipalDep,
    q: Annotated[str | None, Query(max_length=200, description="Words of the title, key, department or source")] = None,
    kind: Annotated[str | None, Query(max_length=20, description="boundaries, raster, prices, submission, result …")] = None,
    department: Annotated[str | None, Query(max_length=80, description="Holding department 部门")] = None,
    region: Annotated[str | None, Query(pattern=r"^\d{6}$", description="Region code 区划代码")] = None,
    year: Annotated[int | None, Query(ge=1949, le=2100, description="Year 年份 (entries for every year too)")] = None,
    variable: Annotated[str | None, Query(max_length=60, description="Raster variable 栅格变量")] = None,
) -> list[EntryOut]:
    """Entries the reader may see, with their version history (SHA-256 of each version). The public sees
    public entries' approved versions; departments see what is shared with them; unapproved versions only
    their holding department (公众仅见公开条目的已审核版本；未审核版本仅所属部门可见)."""
    return [EntryOut.model_validate(e) for e in svc.list_entries(
        store, principal, q=q, kind=kind, department=department, region=region, year=year, variable=variable)]


@router.get("/api/catalog/{entry_id}", summary="One catalogue entry · 条目详情")
def get_entry(entry_id: EntryId, store: StoreDep, principal: PrincipalDep) -> EntryOut:
    """The entry's metadata and the versions the reader may see (404 when none)."""
    return EntryOut.model_validate(svc.get_entry(store, principal, entry_id))


@router.post("/api/catalog", summary="Create a catalogue entry · 新建条目", status_code=201)
def create_entry(body: EntryIn, store: StoreDep, user: Editor) -> EntryOut:
    """A new entry held by your department; upload its versions next."""
    return EntryOut.model_validate(svc.create_entry(store, user, body.model_dump()))


@router.patch("/api/catalog/{entry_id}", summary="Share or describe an entry · 修改共享范围")
def update_entry(entry_id: EntryId, body: EntryPatch, store: StoreDep, user: Editor) -> EntryOut:
    """Public, or the holding department and the departments listed (holding department or admin)."""
    return EntryOut.model_validate(svc.update_entry(store, user, entry_id, body.model_dump(exclude_unset=True)))


@router.post("/api/catalog/{entry_id}/versions", summary="Upload a version · 上传新版本", status_code=201)
async def upload_version(
    entry_id: EntryId,
    store: StoreDep,
    settings: SettingsDep,
    user: Editor,
    file: Annotated[UploadFile, File(description="GeoTIFF, CSV (UTF-8), GeoJSON or GeoPackage")],
    note: Annotated[str, Form(max_length=2000, description="What changed 版本说明")] = "",
) -> EntryOut:
    """A new draft version (the holding department); it is served to others only once approved."""
    from qingshan.core.limits import check_bytes

    if file.size is not None:
        check_bytes(file.size, settings.limits.upload_bytes, name="upload_bytes", file=file.filename,
                    what="The uploaded file", what_zh="上传的文件")
    content = await file.read()
    return EntryOut.model_validate(await run_in_threadpool(
        svc.add_version, store, user, entry_id, file.filename or "upload", content, note=note, limits=settings.limits))


@router.post("/api/catalog/{entry_id}/versions/{version}/approve", summary="Approve a version · 审核通过")
def approve_version(entry_id: EntryId, version: Version, store: StoreDep, user: Approver) -> EntryOut:
    """draft → approved, by a reviewer or accountant of the holding department other than the uploader (or an
    admin); one winner among concurrent approvals (409 for the others)."""
    return EntryOut.model_validate(svc.approve_version(store, user, entry_id, version))


def _version_file(store: Any, settings: Any, principal: Principal | None, entry_id: int,
                  version: int) -> svc.VersionFile:
    from qingshan.store.artifacts import find_data_dir

    return svc.read_version(store, principal, entry_id, version, data_dir=find_data_dir(settings.store_url))


@router.get("/api/catalog/{entry_id}/versions/{version}/file", summary="Download a version's file · 下载文件",
            response_class=Response,
            responses={200: {"content": {"application/octet-stream": {}},
                             "description": "The file; its SHA-256 in the X-Content-SHA256 header"}})
def download_file(entry_id: EntryId, version: Version, store: StoreDep, settings: SettingsDep,
                  principal: PrincipalDep) -> Response:
    """The file as stored (checked against its SHA-256 first); an unapproved version only for its department."""
    f = _version_file(store, settings, principal, entry_id, version)
    return Response(f.content, media_type=f.content_type, headers={
        "Content-Disposition": attachment(f.filename), "X-Content-SHA256": f.sha256})


@router.get("/api/catalog/{entry_id}/versions/{version}/download", summary="Download with metadata · 下载（含元数据）",
            response_class=Response,
            responses={200: {"content": {"application/zip": {}}, "description": "metadata.json and the file"}})
def download_bundle(entry_id: EntryId, version: Version, store: StoreDep, settings: SettingsDep,
                    principal: PrincipalDep) -> Response:
    """A zip of ``metadata.json`` (the entry's metadata, this version and the version history with SHA-256s)
    and the file."""
    f = _version_file(store, settings, principal, entry_id, version)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("metadata.json", json.dumps(f.metadata(), ensure_ascii=False, indent=1, default=str))
        z.writestr(f.filename, f.content)
    return Response(buf.getvalue(), media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="catalog-{entry_id}-v{version}.zip"', "X-Content-SHA256": f.sha256})


@router.post("/api/catalog/bases/{base}", summary="Register a base configuration's files · 登记基础配置数据",
             status_code=201)
def register_base(
    base: Annotated[str, PathParam(max_length=200, description="A base name of GET /api/bases")],
    store: StoreDep, settings: SettingsDep, admin: Admin,
    visibility: Annotated[Literal["public", "departments"], Query()] = "public",
) -> list[dict[str, Any]]:
    """Record the boundaries, rasters and tables of a base configuration as approved catalogue versions
    (idempotent; changed files add versions). Admins only."""
    from qingshan.api.routers.jobs import _registered
    from qingshan.platform.jobs import EXAMPLE_BASE, resolve_base

    name, path = resolve_base(base, _registered(settings))
    return svc.register_base(store, name, path, actor=admin.actor, visibility=visibility,
                             licence=svc.EXAMPLE_LICENCE if name == EXAMPLE_BASE else "")


# ----------------------------------------------------------------------------- assembled accountings
class AssemblyOut(BaseModel):
    """A saved assembly."""

    id: int
    name: str
    spec: dict[str, Any]
    created_by: str
    created_at: Any


@router.post("/api/assemblies/validate", summary="Check an assembled accounting · 校验核算组装")
def validate_assembly(body: AssemblySpec, store: StoreDep, user: Accountant) -> dict[str, Any]:
    """Every entry readable and approved, kinds and years right, profile and exclusions known, and the engine's
    checks of tables, boundaries and statistics pass; returns the versions pinned with their SHA-256."""
    return asm.resolve(store, user, body)


@router.post("/api/assemblies/jobs", summary="Queue an assembled accounting · 发起组装的核算", status_code=202)
def queue_assembly(body: AssemblySpec, store: StoreDep, user: Accountant) -> JobOut:
    """Checked as /api/assemblies/validate, then queued (base ``catalog``) with every version pinned."""
    from qingshan.platform.jobs import request_assembled

    return JobOut.model_validate(request_assembled(store, user, body))


@router.post("/api/assemblies", summary="Save an assembled accounting · 保存核算组装", status_code=201)
def save_assembly(body: AssemblySpec, store: StoreDep, user: Accountant) -> AssemblyOut:
    """Check and keep it under its name (reload it in the workbench, export it as a config)."""
    return AssemblyOut.model_validate(asm.save_assembly(store, user, body))


@router.get("/api/assemblies", summary="Saved assemblies · 已保存的核算组装")
def list_assemblies(store: StoreDep, _user: Accountant) -> list[AssemblyOut]:
    """Newest first."""
    return [AssemblyOut.model_validate(a) for a in asm.list_assemblies(store)]


@router.post("/api/assemblies/config", summary="Export as a run config · 导出为核算配置",
             response_class=Response, responses={200: {"content": {"application/zip": {}}}})
def export_config(body: AssemblySpec, store: StoreDep, user: Accountant) -> Response:
    """A zip with ``accounting.toml`` (run it with ``qingshan account accounting.toml``), the files it names
    and ``assembly.json`` (the versions with their SHA-256)."""
    pinned = asm.resolve(store, user, body)
    return Response(asm.export_bundle(store, pinned), media_type="application/zip",
                    headers={"Content-Disposition": 'attachment; filename="accounting.zip"'})


@router.post("/api/assemblies/import", summary="Import a run config · 导入核算配置")
async def import_config(
    store: StoreDep, settings: SettingsDep, user: Accountant,
    file: Annotated[UploadFile, File(description="zip of a run config (*.toml at the top) and its files")],
) -> dict[str, Any]:
    """The assembly a config describes: its files matched to approved catalogue versions by SHA-256; files
    not in the catalogue become draft entries of your department (listed in ``created``; approve them, then
    queue)."""
    from qingshan.core.limits import check_bytes

    if file.size is not None:
        check_bytes(file.size, settings.limits.upload_bytes, name="upload_bytes", file=file.filename,
                    what="The uploaded file", what_zh="上传的文件")
    content = await file.read()
    return await run_in_threadpool(asm.import_bundle, store, user, content, limits=settings.limits)


# ----------------------------------------------------------------------------- API tokens
class TokenIn(BaseModel):
    """A token for another system 新建接口令牌."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=80, description="The system, e.g. provincial-data-hub")
    scopes: list[Literal["read:results", "read:data", "submit:data"]] = Field(min_length=1, max_length=3)
    regions: list[Annotated[str, Field(max_length=6)]] = Field(default_factory=list, max_length=200)
    forms: list[Annotated[str, Field(max_length=40)]] = Field(default_factory=list, max_length=20)
    department: str = Field("", max_length=80)
    expires_in_days: float = Field(90, gt=0, le=tok.MAX_DAYS)


class TokenOut(BaseModel):
    """A token's record (never its value)."""

    id: int
    name: str
    prefix: str
    department: str
    scopes: list[str]
    regions: list[str]
    forms: list[str]
    created_by: str
    created_at: Any
    expires_at: Any
    revoked_at: Any
    revoked_by: str | None
    last_used_at: Any
    active: bool


class TokenCreated(TokenOut):
    """The new token; ``token`` is shown only now."""

    token: str = Field(description="Send as `Authorization: Bearer <token>`; it is not shown again")


@router.post("/api/tokens", summary="Create an API token · 新建接口令牌", status_code=201)
def create_token(body: TokenIn, store: StoreDep, admin: Admin) -> TokenCreated:
    """Admins only; the value is returned once and stored hashed."""
    row, value = tok.create_token(store, admin, name=body.name, scopes=body.scopes, regions=body.regions,
                                  forms=body.forms, department=body.department,
                                  expires_in_days=body.expires_in_days)
    return TokenCreated(**row, token=value)


@router.get("/api/tokens", summary="API tokens · 接口令牌")
def list_tokens(store: StoreDep, _admin: Admin) -> list[TokenOut]:
    """Every token with its scopes, expiry, revocation and last use (never the value)."""
    return [TokenOut.model_validate(t) for t in tok.list_tokens(store)]


@router.post("/api/tokens/{token_id}/revoke", summary="Revoke an API token · 吊销接口令牌")
def revoke_token(token_id: Annotated[int, PathParam(ge=1, le=MAX_ID)], store: StoreDep, admin: Admin) -> TokenOut:
    """The token stops working at once (401)."""
    return TokenOut.model_validate(tok.revoke_token(store, admin, token_id))
