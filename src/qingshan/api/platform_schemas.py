"""Request and response models of the platform endpoints (accounts, forms, submissions, jobs, audit)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AliasPath, BaseModel, ConfigDict, Field

__all__ = [
    "AuditOut",
    "CellError",
    "FormGroupOut",
    "FormItemOut",
    "JobIn",
    "JobOut",
    "LoginIn",
    "PublicationOut",
    "ReviewIn",
    "SubmissionOut",
    "UserIn",
    "UserOut",
    "UserPatch",
    "VersionOut",
]

Role = Literal["admin", "accountant", "submitter", "reviewer", "viewer"]


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class LoginIn(BaseModel):
    """Credentials 登录凭据."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=80)
    password: str = Field(min_length=1, max_length=1000)


class UserOut(_Out):
    """An account (never its password hash)."""

    id: int
    username: str
    display_name: str = ""
    role: str
    regions: list[str]
    forms: list[str]
    active: bool = True
    department: str = ""


class LoginOut(BaseModel):
    """The user logged in, and the session token (also set as an HttpOnly cookie)."""

    user: UserOut
    token: str = Field(description="Send as `Authorization: Bearer <token>` from scripts; browsers use the cookie")


class UserIn(BaseModel):
    """A new account 新账号."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=80)
    password: str = Field(min_length=8, max_length=1000)
    role: Role
    display_name: str = Field("", max_length=200)
    regions: list[str] = Field(default_factory=list, description='GB/T 2260 codes a submitter reports for, or ["*"]')
    forms: list[str] = Field(default_factory=list, description='Form groups a submitter fills, or ["*"]')
    department: str = Field("", max_length=80, description="Department 部门 (data catalogue visibility)")


class UserPatch(BaseModel):
    """Changes to an account 修改账号."""

    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    display_name: str | None = Field(None, max_length=200)
    regions: list[str] | None = None
    forms: list[str] | None = None
    active: bool | None = None
    password: str | None = Field(None, min_length=8, max_length=1000)
    department: str | None = Field(None, max_length=80)


class FormItemOut(_Out):
    """One item of a form."""

    item: str
    name_zh: str
    name_en: str
    unit: str
    indicator: str | None
    component: str | None


class FormGroupOut(_Out):
    """A data group of the reporting system 报表组."""

    id: str
    name_zh: str
    name_en: str
    description_zh: str
    description_en: str
    items: list[FormItemOut]
    variables: list[str]
    with_prices: bool


class CellError(BaseModel):
    """A validation problem of one cell (or of a raster), in both languages."""

    sheet: str | None = None
    row: int | None = None
    column: str | None = None
    field: str | None = None
    code: str | None = None
    value: str | None = None
    message_en: str
    message_zh: str


class VersionOut(BaseModel):
    """One uploaded version of a submission."""

    id: int
    version: int
    status: str
    sha256: str
    n_errors: int
    n_rows: int
    errors: list[CellError]
    created_by: str
    created_at: datetime
    submitted_at: datetime | None
    reviewed_by: str | None
    reviewed_at: datetime | None
    review_comment: str | None
    data: dict[str, Any] | None = None


class SubmissionOut(BaseModel):
    """A submission (form group × year × submitter) with its versions."""

    id: int
    group: str
    year: int
    variable: str | None
    created_by: str
    created_at: datetime
    status: str | None
    latest_version: int | None
    versions: list[VersionOut]


class ReviewIn(BaseModel):
    """A reviewer's comment 审核意见."""

    model_config = ConfigDict(extra="forbid")

    comment: str | None = Field(None, max_length=2000)


class JobIn(BaseModel):
    """An accounting request 核算请求."""

    model_config = ConfigDict(extra="forbid")

    profile: str = Field("jiangxi-db36-2021", max_length=100)
    years: list[Annotated[int, Field(ge=1949, le=2100)]] = Field(min_length=1, max_length=50)
    name: str | None = Field(None, max_length=200)
    base: str = Field(max_length=500, description="Base configuration (boundaries, rasters, tables) the approved data "
                      "complete: 'example:jiangxi-2019' (approximate example data) or a registered 'config:<name>' "
                      "(GET /api/bases) 基础配置，必须明确指定")


class BaseOut(BaseModel):
    """A base configuration an accounting may start from 可用的基础配置."""

    name: str
    example: bool = Field(description="the embedded example's approximate data 内置示例（近似数据）")


class JobOut(BaseModel):
    """An accounting job and its progress 核算任务及进度."""

    id: str
    kind: str
    status: str
    params: dict[str, Any]
    base: str | None = Field(None, validation_alias=AliasPath("params", "base"),
                             description="base configuration named by the request 基础配置")
    example: bool = Field(False, validation_alias=AliasPath("params", "example"),
                          description="based on the embedded example's approximate data 基于内置示例数据")
    requested_by: str
    progress: float = Field(description="fraction 0–1")
    step: str | None
    run_id: str | None
    error: dict[str, Any] | None
    worker: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class PublicationOut(BaseModel):
    """Publication state of a run: draft → approved → published."""

    run_id: str
    state: str
    job_id: str | None
    approved_by: str | None
    approved_at: datetime | None
    published_by: str | None
    published_at: datetime | None


class AuditOut(_Out):
    """One line of the audit log 审计日志."""

    id: int
    at: datetime
    actor: str | None
    actor_role: str | None
    action: str
    object_type: str
    object_id: str | None
    details: dict[str, Any]
