"""ORM models of the platform: accounts, sessions, audit log, form submissions, uploads, jobs.

They share :class:`qingshan.store.models.Base` with the results tables; the schema is created by
the Alembic migration ``0002_platform`` (never by ``create_all``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from qingshan.store.models import Base, UTCDateTime

__all__ = [
    "ApiToken",
    "AuditEntry",
    "CatalogAssembly",
    "CatalogEntry",
    "CatalogVersion",
    "FormSubmission",
    "Job",
    "LevelApproval",
    "LoginFailure",
    "ReportingReminder",
    "ReportingTask",
    "ReviewComment",
    "RunPublication",
    "SubmissionVersion",
    "Upload",
    "UploadChunk",
    "UploadSession",
    "User",
    "UserSession",
]


class User(Base):
    """An account: role, and for submitters the form groups and region codes assigned."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))  # admin | accountant | submitter | reviewer | viewer
    regions: Mapped[list[str]] = mapped_column(JSON, default=list)  # GB/T 2260 codes, or ["*"]
    forms: Mapped[list[str]] = mapped_column(JSON, default=list)  # form group ids, or ["*"]
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    department: Mapped[str] = mapped_column(String(80), default="", server_default="")  # migration 0006
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class UserSession(Base):
    """A login session; only the SHA-256 of the cookie token is stored."""

    __tablename__ = "sessions"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditEntry(Base):
    """One line of the append-only audit log: who did what, when, to which object."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    actor: Mapped[str | None] = mapped_column(String(80), nullable=True)  # username; None = system
    actor_role: Mapped[str | None] = mapped_column(String(20), nullable=True)
    action: Mapped[str] = mapped_column(String(60), index=True)
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(80), nullable=True)
    details: Mapped[dict] = mapped_column(JSON, default=dict)


class Upload(Base):
    """An uploaded file (filled form or raster), kept byte for byte with its SHA-256."""

    __tablename__ = "uploads"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # form | raster
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(120), default="application/octet-stream")
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class FormSubmission(Base):
    """A submitter's report for one form group and year (or one raster variable and year)."""

    __tablename__ = "form_submissions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    group: Mapped[str] = mapped_column(String(40), index=True)
    year: Mapped[int] = mapped_column(Integer)
    variable: Mapped[str | None] = mapped_column(String(60), nullable=True)  # raster group only
    created_by: Mapped[str] = mapped_column(String(80), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SubmissionVersion(Base):
    """One uploaded version of a submission; approved versions are locked (read-only)."""

    __tablename__ = "submission_versions"
    __table_args__ = (UniqueConstraint("submission_id", "version", name="uq_submission_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("form_submissions.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), index=True)  # draft | submitted | approved | rejected
    upload_id: Mapped[str] = mapped_column(ForeignKey("uploads.id"))
    sha256: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict] = mapped_column(JSON, default=dict)  # parsed rows (statistics, prices) or raster facts
    errors: Mapped[list] = mapped_column(JSON, default=list)  # per-cell validation errors
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    reviewed_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    review_comment: Mapped[str | None] = mapped_column(Text, nullable=True)


class Job(Base):
    """An accounting requested from approved data, executed by a worker process."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), default="account")
    status: Mapped[str] = mapped_column(String(20), index=True)  # queued | running | succeeded | failed
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    requested_by: Mapped[str] = mapped_column(String(80))
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    step: Mapped[str | None] = mapped_column(String(120), nullable=True)
    run_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    error: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    worker: Mapped[str | None] = mapped_column(String(120), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)  # renewed by the worker


class RunPublication(Base):
    """Publication state of a run: draft → approved → published (who and when at each step)."""

    __tablename__ = "run_publication"

    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[str] = mapped_column(String(20), index=True)  # draft | approved | published
    job_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    approved_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    published_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class LoginFailure(Base):
    """One failed login (for throttling per account and IP, and per IP; migration ``0004``)."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_user_ip_at", "username", "ip", "at"),
                      Index("ix_login_failures_ip_at", "ip", "at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    username: Mapped[str] = mapped_column(String(80))
    ip: Mapped[str] = mapped_column(String(64))


class ReportingTask(Base):
    """A reporting task of the statistical reporting system (统计报表制度; migration ``0007``): one
    form (表号) for one period, a deadline, and the reporting units (regions) expected to report."""

    __tablename__ = "reporting_tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    form_no: Mapped[str] = mapped_column(String(40))  # 表号, e.g. 赣生核1表
    group: Mapped[str] = mapped_column(String(40), index=True)  # form group id (qingshan.platform.forms)
    year: Mapped[int] = mapped_column(Integer)  # reporting period (年报)
    title_zh: Mapped[str] = mapped_column(String(200))
    title_en: Mapped[str] = mapped_column(String(200), default="")
    deadline: Mapped[datetime] = mapped_column(UTCDateTime())
    regions: Mapped[list[str]] = mapped_column(JSON, default=list)  # reporting units (GB/T 2260 codes)
    status: Mapped[str] = mapped_column(String(20), default="open")  # open | closed
    review_levels: Mapped[list[str]] = mapped_column(JSON, default=list)  # e.g. ["city", "province"]; [] = one review
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ReportingReminder(Base):
    """A reminder (催报) sent to a reporting unit of a task that has not reported."""

    __tablename__ = "reporting_reminders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("reporting_tasks.id", ondelete="CASCADE"), index=True)
    region_code: Mapped[str] = mapped_column(String(12))
    status_at_reminder: Mapped[str] = mapped_column(String(20))  # missing | draft | rejected
    message: Mapped[str] = mapped_column(Text, default="")
    sent_by: Mapped[str] = mapped_column(String(80))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ReviewComment(Base):
    """A reviewer's comment on one row (region × item) of a submission version, or on the whole
    version (``region_code`` and ``item`` empty); migration ``0007``. Comments are append-only."""

    __tablename__ = "review_comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("submission_versions.id", ondelete="CASCADE"), index=True)
    region_code: Mapped[str] = mapped_column(String(12), default="")
    item: Mapped[str] = mapped_column(String(80), default="")
    comment: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(80))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class UploadSession(Base):
    """A resumable upload of a large file in chunks (migration ``0007``): announced with its size and
    SHA-256, completed when every chunk is in and the assembled bytes match."""

    __tablename__ = "upload_sessions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))  # raster
    filename: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    chunk_size: Mapped[int] = mapped_column(Integer)
    params: Mapped[dict] = mapped_column(JSON, default=dict)  # {variable, year}
    status: Mapped[str] = mapped_column(String(20))  # open | completing | complete
    submission_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class UploadChunk(Base):
    """One received chunk of an :class:`UploadSession` (deleted once the upload completes)."""

    __tablename__ = "upload_chunks"

    session_id: Mapped[str] = mapped_column(ForeignKey("upload_sessions.id", ondelete="CASCADE"), primary_key=True)
    index: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)


class CatalogEntry(Base):
    """A dataset of the data catalogue 数据目录 (migration ``0006``): boundaries, a raster, a table, a
    statistical form or a published result, with its metadata and who may read its approved versions."""

    __tablename__ = "catalog_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)  # stable name, e.g. base:example:jiangxi-2019:lulc:2019
    kind: Mapped[str] = mapped_column(String(20), index=True)  # boundaries | raster | parameters | prices | ...
    variable: Mapped[str | None] = mapped_column(String(60), nullable=True)  # raster variable (lulc, precip …)
    title_zh: Mapped[str] = mapped_column(String(300))
    title_en: Mapped[str] = mapped_column(String(300))
    department: Mapped[str] = mapped_column(String(80), index=True)  # the department that holds the data
    region: Mapped[str | None] = mapped_column(String(20), nullable=True)  # GB/T 2260 code
    year: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: valid for every year
    unit: Mapped[str] = mapped_column(String(80), default="")
    source: Mapped[str] = mapped_column(Text, default="")
    licence: Mapped[str] = mapped_column(String(300), default="")
    crs: Mapped[str | None] = mapped_column(String(120), nullable=True)  # rasters, boundaries: EPSG code or name
    resolution: Mapped[str | None] = mapped_column(String(80), nullable=True)  # rasters: cell size with unit
    visibility: Mapped[str] = mapped_column(String(20), default="departments")  # public | departments
    departments: Mapped[list[str]] = mapped_column(JSON, default=list)  # readers besides the holder
    extra: Mapped[dict] = mapped_column(JSON, default=dict)  # e.g. boundaries' levels and code fields
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CatalogVersion(Base):
    """One version of a catalogue entry with its SHA-256; served to others only once approved."""

    __tablename__ = "catalog_versions"
    __table_args__ = (UniqueConstraint("entry_id", "version", name="uq_catalog_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("catalog_entries.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), index=True)  # draft | approved | withdrawn
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer, default=0)
    filename: Mapped[str] = mapped_column(String(255))
    upload_id: Mapped[str | None] = mapped_column(ForeignKey("uploads.id"), nullable=True)  # the bytes
    submission_version_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # a form's parsed rows
    run_id: Mapped[str | None] = mapped_column(String(36), nullable=True)  # a published result
    note: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    approved_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class CatalogAssembly(Base):
    """An accounting assembled from catalogue entries (saved, re-runnable, exportable as a config)."""

    __tablename__ = "catalog_assemblies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    spec: Mapped[dict] = mapped_column(JSON, default=dict)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ApiToken(Base):
    """An API token of another system: scoped, expiring, revocable; only its SHA-256 is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # first characters, to recognise a token in lists
    name: Mapped[str] = mapped_column(String(80))
    department: Mapped[str] = mapped_column(String(80), default="")
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)  # read:results | read:data | submit:data
    regions: Mapped[list[str]] = mapped_column(JSON, default=list)
    forms: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(String(80), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
class LevelApproval(Base):
    """One level's approval of a submission version under multi-level review (county → city →
    province, configured on the reporting task; migration ``0007``). One row per (version, level)."""

    __tablename__ = "level_approvals"
    __table_args__ = (UniqueConstraint("version_id", "level", name="uq_level_approval"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("submission_versions.id", ondelete="CASCADE"), index=True)
    level: Mapped[str] = mapped_column(String(20))  # county | city | province
    reviewer: Mapped[str] = mapped_column(String(80))
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
