"""Submissions of reporting forms and rasters: upload → submit → review (approve / reject) → lock.

One submission per (form group, year, raster variable, submitter); every upload adds a version
(1, 2, …) and no version is ever deleted. A version moves ``draft → submitted → approved`` or
``submitted → rejected``; only a draft without validation errors can be submitted, and an
approved version is locked: nothing changes it any more (a correction is a new version, which
must be approved in turn). Every step is written to the audit log in the same transaction.
"""

from __future__ import annotations

import hashlib
import tempfile
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from qingshan.core.errors import InputError
from qingshan.core.limits import Limits, check_bytes, check_raster_file, current_limits
from qingshan.core.redact import redact_mapping
from qingshan.core.variables import VARIABLES
from qingshan.io.rasters import scratch_name
from qingshan.platform.accounts import Principal, in_region_scope, require_form
from qingshan.platform.audit import record
from qingshan.platform.errors import NotFoundError, PermissionDeniedError, StateError
from qingshan.platform.forms import get_group, parse_form
from qingshan.store.db import one_writer_at_a_time
from qingshan.store.platform_models import FormSubmission, SubmissionVersion, Upload

__all__ = [
    "REVIEWERS",
    "STATUSES",
    "ApprovedData",
    "approved_data",
    "get_submission",
    "list_submissions",
    "read_upload",
    "review",
    "submit",
    "upload_form",
    "upload_raster",
    "validate_raster",
]

STATUSES = ("draft", "submitted", "approved", "rejected")
REVIEWERS = ("reviewer", "accountant", "admin")
MAX_UPLOAD_BYTES = 200 * 1024 * 1024  # 200 MiB per file; larger rasters belong on a file server


def _now() -> datetime:
    return datetime.now(UTC)


# ----------------------------------------------------------------------------- views
def _version_dict(v: SubmissionVersion, *, with_data: bool = False) -> dict[str, Any]:
    d = {"id": v.id, "version": v.version, "status": v.status, "sha256": v.sha256, "errors": list(v.errors or []),
         "n_errors": len(v.errors or []), "created_by": v.created_by, "created_at": v.created_at,
         "submitted_at": v.submitted_at, "reviewed_by": v.reviewed_by, "reviewed_at": v.reviewed_at,
         "review_comment": v.review_comment, "upload_id": v.upload_id,
         "n_rows": len((v.data or {}).get("statistics", [])) + len((v.data or {}).get("prices", []))}
    if with_data:
        d["data"] = v.data
    return d


def _submission_dict(sub: FormSubmission, versions: list[SubmissionVersion], *, with_data: bool = False) -> dict[str, Any]:
    latest = versions[-1] if versions else None
    return {"id": sub.id, "group": sub.group, "year": sub.year, "variable": sub.variable,
            "created_by": sub.created_by, "created_at": sub.created_at,
            "status": latest.status if latest else None, "latest_version": latest.version if latest else None,
            "versions": [_version_dict(v, with_data=with_data) for v in versions]}


def _versions(s: Session, submission_id: int) -> list[SubmissionVersion]:
    return list(s.scalars(select(SubmissionVersion).where(SubmissionVersion.submission_id == submission_id)
                          .order_by(SubmissionVersion.version)))


def _not_found(what_en: str, what_zh: str, field_: str) -> NotFoundError:
    return NotFoundError(f"No {what_en}", f"没有{what_zh}", field=field_,
                         fix="List the submissions with GET /api/submissions.",
                         fix_zh="用 GET /api/submissions 查看填报记录。")


def _visible(principal: Principal, sub: FormSubmission) -> bool:
    return principal.role in REVIEWERS or sub.created_by == principal.username


def list_submissions(factory: sessionmaker[Session], principal: Principal, *, status: str | None = None,
                     group: str | None = None, year: int | None = None) -> list[dict[str, Any]]:
    """Submissions the user may see (submitters: their own), newest first, filtered by the
    status of the latest version, the group and the year."""
    with factory() as s:
        q = select(FormSubmission).order_by(FormSubmission.id.desc())
        if principal.role not in REVIEWERS:
            q = q.where(FormSubmission.created_by == principal.username)
        if group is not None:
            q = q.where(FormSubmission.group == group)
        if year is not None:
            q = q.where(FormSubmission.year == year)
        out = [_submission_dict(sub, _versions(s, sub.id)) for sub in s.scalars(q)]
    return [d for d in out if status is None or d["status"] == status]


def get_submission(factory: sessionmaker[Session], principal: Principal, submission_id: int) -> dict[str, Any]:
    """One submission with all its versions (and their parsed data)."""
    with factory() as s:
        sub = s.get(FormSubmission, submission_id)
        if sub is None or not _visible(principal, sub):
            raise _not_found(f"submission {submission_id}", f"编号为 {submission_id} 的填报", "submission_id")
        return _submission_dict(sub, _versions(s, sub.id), with_data=True)


def read_upload(factory: sessionmaker[Session], principal: Principal, submission_id: int,
                version: int) -> tuple[str, str, bytes]:
    """The file uploaded as ``version``: (filename, content type, bytes)."""
    with factory() as s:
        sub = s.get(FormSubmission, submission_id)
        v = _version_row(s, submission_id, version)
        if sub is None or v is None or not _visible(principal, sub):
            raise _not_found(f"version {version} of submission {submission_id}",
                             f"填报 {submission_id} 的第 {version} 版", "version")
        up = s.get(Upload, v.upload_id)
        assert up is not None
        return up.filename, up.content_type, up.content


def _version_row(s: Session, submission_id: int, version: int) -> SubmissionVersion | None:
    return s.scalars(select(SubmissionVersion).where(SubmissionVersion.submission_id == submission_id,
                                                     SubmissionVersion.version == version)).first()


# ----------------------------------------------------------------------------- uploads
def _check_size(content: bytes, filename: str, limit: int = MAX_UPLOAD_BYTES, name: str = "upload_bytes") -> None:
    if not content:
        raise InputError(f"The file '{filename}' is empty", f"文件“{filename}”为空", file=filename, field="file",
                         fix="Choose the filled form (or raster) and upload it again.", fix_zh="请重新选择文件上传。")
    form = name == "form_bytes"
    check_bytes(len(content), limit, name=name, file=filename, what=f"The file '{filename}'",
                what_zh=f"文件“{filename}”",
                fix="Split the form into several uploads (e.g. one per city)." if form else
                "Clip the raster to the accounting area or compress it (deflate).",
                fix_zh="请将报表拆分为多次上传（如每个市一份）。" if form else "请将栅格裁剪到核算范围或压缩（deflate）后上传。")


def _store_version(factory: sessionmaker[Session], principal: Principal, *, group: str, year: int,
                   variable: str | None, kind: str, filename: str, content_type: str, content: bytes,
                   data: dict[str, Any], errors: list[dict[str, Any]]) -> dict[str, Any]:
    digest = hashlib.sha256(content).hexdigest()
    with factory.begin() as s:
        one_writer_at_a_time(s, "form_submissions")  # read-then-insert: no other request in between
        sub = s.scalars(select(FormSubmission).where(
            FormSubmission.group == group, FormSubmission.year == year,
            FormSubmission.created_by == principal.username,
            FormSubmission.variable.is_(None) if variable is None else FormSubmission.variable == variable,
        )).first()
        if sub is None:
            sub = FormSubmission(group=group, year=year, variable=variable, created_by=principal.username,
                                 created_at=_now())
            s.add(sub)
            s.flush()
        n = s.scalar(select(func.max(SubmissionVersion.version)).where(SubmissionVersion.submission_id == sub.id)) or 0
        up = Upload(id=str(uuid.uuid4()), kind=kind, filename=Path(filename).name[:255], content_type=content_type,
                    size=len(content), sha256=digest, content=content, uploaded_by=principal.username,
                    created_at=_now())
        s.add(up)
        s.flush()
        v = SubmissionVersion(submission_id=sub.id, version=n + 1, status="draft", upload_id=up.id, sha256=digest,
                              data=data, errors=errors, created_by=principal.username, created_at=_now())
        s.add(v)
        s.flush()
        record(s, principal.actor, "submission.upload", "submission", sub.id,
               {"group": group, "year": year, "variable": variable, "version": v.version, "sha256": digest,
                "filename": up.filename, "errors": len(errors)})
        return _submission_dict(sub, _versions(s, sub.id))


def upload_form(factory: sessionmaker[Session], principal: Principal, group_id: str, year: int, filename: str,
                content: bytes, *, known_regions: Mapping[str, str] | None = None,
                limits: Limits | None = None) -> dict[str, Any]:
    """Parse and validate a filled form, and keep it as a new draft version (with its errors).

    A file that is not a form of this group raises :class:`InputError` and is not kept; nor is a
    file over a limit (:class:`~qingshan.core.limits.LimitExceededError`).
    """
    limits = limits or current_limits()
    group = get_group(group_id)
    require_form(principal, group.id)
    _check_size(content, filename, limits.form_bytes, "form_bytes")
    allowed: Callable[[str], bool] | None = None
    if principal.role == "submitter":
        allowed = lambda code: in_region_scope(code, principal.regions)  # noqa: E731
    parsed = parse_form(content, group, year, known_regions=known_regions, allowed_region=allowed, filename=filename,
                        limits=limits)
    data = {"statistics": parsed.statistics, "prices": parsed.prices}
    return _store_version(factory, principal, group=group.id, year=year, variable=None, kind="form",
                          filename=filename,
                          content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                          content=content, data=data, errors=parsed.errors)


@dataclass
class RasterCheck:
    """What the checks of :mod:`qingshan.io.rasters` found in an uploaded raster."""

    facts: dict[str, Any] = field(default_factory=dict)
    errors: list[dict[str, Any]] = field(default_factory=list)


def validate_raster(path: str | Path, variable: str) -> RasterCheck:
    """Check a raster with :mod:`qingshan.io.rasters` and :mod:`qingshan.io.plausibility`: readable, has a
    CRS whose area of use holds its coordinates, statistics without a unit mistake (precipitation in m,
    float land cover …), values in the variable's plausible range (on its own grid). Errors are
    bilingual dicts with ``field`` (``crs``, the variable)."""
    from qingshan.io.plausibility import check_raster
    from qingshan.io.rasters import grid_of, read_aligned

    out = RasterCheck()
    try:
        stats = check_raster(path, variable, context="upload")
        grid = grid_of(path)
        values = read_aligned(path, variable, grid)
    except InputError as exc:
        d = exc.to_dict()
        d.update({"sheet": None, "row": None, "column": None, "code": exc.code, "value": None,
                  "file": Path(str(path)).name})
        out.errors.append(d)
        return out
    import numpy as np

    finite = values[np.isfinite(values)]
    out.facts = {"variable": variable, "shape": list(grid.shape), "crs_wkt": grid.crs_wkt[:2000],
                 "min": float(finite.min()), "max": float(finite.max()), "valid_cells": int(finite.size),
                 "median": stats.median, "p99": stats.p99}
    return out


def upload_raster(factory: sessionmaker[Session], principal: Principal, variable: str, year: int, filename: str,
                  content: bytes, *, limits: Limits | None = None) -> dict[str, Any]:
    """Validate an uploaded raster and keep it as a new draft version of the ``rasters`` group.

    A raster whose header claims more cells than allowed is refused before any band is read
    (:class:`~qingshan.core.limits.LimitExceededError`, not kept)."""
    limits = limits or current_limits()
    require_form(principal, "rasters")
    _check_size(content, filename, limits.upload_bytes, "upload_bytes")
    group = get_group("rasters")
    if variable not in group.variables:
        raise InputError(
            f"Unknown raster variable '{variable}'", f"未知的栅格变量“{variable}”", field="variable",
            fix=f"Use one of: {', '.join(group.variables)}.",
            fix_zh=f"可用变量：{', '.join(f'{v}（{VARIABLES[v].name_zh}）' for v in group.variables)}。",
        )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / scratch_name(filename)  # never the user's name: "..", 300 bytes, "a/b"
        path.write_bytes(content)
        check_raster_file(path, limits, filename=filename)
        check = validate_raster(path, variable)
    check.errors = [redact_mapping(e) for e in check.errors]  # no temporary paths in what users see
    return _store_version(factory, principal, group="rasters", year=year, variable=variable, kind="raster",
                          filename=filename, content_type="image/tiff", content=content,
                          data={"raster": check.facts}, errors=check.errors)


# ----------------------------------------------------------------------------- workflow
def _state_error(version: int, status: str, frm: str) -> StateError:
    locked = " (approved versions are locked)" if status == "approved" else ""
    locked_zh = "（已审核通过的版本已锁定）" if status == "approved" else ""
    return StateError(
        f"Version {version} is '{status}', not '{frm}'{locked}: cannot change it",
        f"第 {version} 版的状态为“{status}”而不是“{frm}”{locked_zh}，无法执行该操作",
        field="status",
        fix="Upload a new version to change the data." if status != "draft" else "Submit it first.",
        fix_zh="如需修改数据请上传新版本。" if status != "draft" else "请先提交。")


def _check_transition(principal: Principal, sub: FormSubmission | None, v: SubmissionVersion | None,
                      submission_id: int, version: int, *, frm: str, to: str, owner_only: bool) -> None:
    """Visibility, ownership, state and errors, read before the conditional update (for clear messages)."""
    if sub is None or v is None or not _visible(principal, sub):
        raise _not_found(f"version {version} of submission {submission_id}",
                         f"填报 {submission_id} 的第 {version} 版", "version")
    if owner_only and sub.created_by != principal.username and principal.role != "admin":
        raise PermissionDeniedError(
            f"Only '{sub.created_by}' can submit submission {submission_id}",
            f"只有“{sub.created_by}”可以提交该填报", field="submission_id",
            fix="Log in as the submitter.", fix_zh="请用填报人账号登录。")
    if v.status != frm:
        raise _state_error(version, v.status, frm)
    if to == "submitted" and v.errors:
        raise StateError(
            f"Version {version} has {len(v.errors)} validation error(s) and cannot be submitted",
            f"第 {version} 版有 {len(v.errors)} 处校验错误，不能提交", field="errors",
            fix="Correct the cells listed and upload the form again.",
            fix_zh="请修改所列单元格后重新上传。")


def _transition(factory: sessionmaker[Session], principal: Principal, submission_id: int, version: int, *,
                frm: str, to: str, action: str, owner_only: bool, comment: str | None = None) -> dict[str, Any]:
    """Move a version from ``frm`` to ``to`` with one conditional UPDATE (``... WHERE status = frm``).

    Of N concurrent transitions of one version exactly one changes the row (row count 1) and writes
    its audit line in the same transaction; the others get a :class:`StateError` (HTTP 409).
    """
    with factory() as s:
        sub = s.get(FormSubmission, submission_id)
        v = _version_row(s, submission_id, version)
        _check_transition(principal, sub, v, submission_id, version, frm=frm, to=to, owner_only=owner_only)
        assert v is not None
        version_id, sha = v.id, v.sha256
    now = _now()
    values: dict[str, Any] = {"status": to}
    if to == "submitted":
        values["submitted_at"] = now
    else:
        values.update(reviewed_by=principal.username, reviewed_at=now, review_comment=comment)
    with factory.begin() as s:
        res = s.execute(update(SubmissionVersion)
                        .where(SubmissionVersion.id == version_id, SubmissionVersion.status == frm)
                        .values(**values).execution_options(synchronize_session=False))
        if res.rowcount != 1:  # type: ignore[attr-defined]  # another transition won the race
            current = s.scalar(select(SubmissionVersion.status).where(SubmissionVersion.id == version_id))
            raise _state_error(version, str(current), frm)
        record(s, principal.actor, action, "submission", submission_id,
               {"version": version, "from": frm, "to": to, "comment": comment, "sha256": sha})
        sub = s.get(FormSubmission, submission_id)
        assert sub is not None
        if to == "approved":  # an approved version becomes a version of its data-catalogue entry
            from qingshan.platform.catalog import register_submission

            v_row = s.get(SubmissionVersion, version_id)
            assert v_row is not None
            register_submission(s, sub, v_row)
        return _submission_dict(sub, _versions(s, submission_id))


def submit(factory: sessionmaker[Session], principal: Principal, submission_id: int, version: int) -> dict[str, Any]:
    """Send a valid draft for review (submitter who uploaded it, or an admin)."""
    return _transition(factory, principal, submission_id, version, frm="draft", to="submitted",
                       action="submission.submit", owner_only=True)


def review(factory: sessionmaker[Session], principal: Principal, submission_id: int, version: int, *,
           approve: bool, comment: str | None = None) -> dict[str, Any]:
    """Approve (and lock) or reject a submitted version."""
    if principal.role not in REVIEWERS:
        raise PermissionDeniedError("Only reviewers, accountants and admins review submissions",
                                    "只有审核员、核算员和管理员可以审核填报", field="role",
                                    fix="Log in with a reviewer account.", fix_zh="请使用审核员账号登录。")
    if approve:  # multi-level review where a reporting task configures it (qingshan.platform.review_levels)
        from qingshan.platform.review_levels import approve_level

        with factory() as s:
            sub = s.get(FormSubmission, submission_id)
            group, year = (sub.group, sub.year) if sub is not None and _visible(principal, sub) else (None, None)
        if group is not None and year is not None:
            last = approve_level(factory, principal, submission_id, version, group, year, comment)
            if last is False:  # a lower level approved: still under review
                return get_submission(factory, principal, submission_id)
    return _transition(factory, principal, submission_id, version, frm="submitted",
                       to="approved" if approve else "rejected",
                       action="submission.approve" if approve else "submission.reject", owner_only=False,
                       comment=comment)


# ----------------------------------------------------------------------------- approved data for runs
@dataclass
class ApprovedData:
    """The latest approved version of every submission of a year: rows and rasters."""

    statistics: list[dict[str, Any]] = field(default_factory=list)
    prices: list[dict[str, Any]] = field(default_factory=list)
    rasters: dict[str, str] = field(default_factory=dict)  # variable → upload id
    versions: list[dict[str, Any]] = field(default_factory=list)  # provenance


def approved_data(factory: sessionmaker[Session], years: list[int]) -> ApprovedData:
    """Rows and rasters of the latest approved version of each submission for ``years``.

    When two submissions give the same (region, year, item), the later approval wins.
    """
    out = ApprovedData()
    with factory() as s:
        subs = list(s.scalars(select(FormSubmission).where(FormSubmission.year.in_(years))))
        chosen = []
        for sub in subs:
            approved = [v for v in _versions(s, sub.id) if v.status == "approved"]
            if approved:
                chosen.append((sub, approved[-1]))
        chosen.sort(key=lambda sv: _aware(sv[1].reviewed_at))
        for sub, v in chosen:
            if sub.group == "rasters" and sub.variable:
                out.rasters[f"{sub.variable}:{sub.year}"] = v.upload_id
            out.statistics.extend(v.data.get("statistics", []))
            out.prices.extend(v.data.get("prices", []))
            out.versions.append({"submission": sub.id, "group": sub.group, "year": sub.year,
                                 "variable": sub.variable, "version": v.version, "sha256": v.sha256,
                                 "submitted_by": sub.created_by, "approved_by": v.reviewed_by})
    return out


def _aware(t: datetime | None) -> datetime:
    if t is None:
        return datetime.min.replace(tzinfo=UTC)
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def upload_bytes(factory: sessionmaker[Session], upload_id: str) -> tuple[str, str, bytes]:
    """(filename, sha256, content) of an upload, for the worker."""
    with factory() as s:
        up = s.get(Upload, upload_id)
        if up is None:
            raise NotFoundError(f"No upload {upload_id}", f"没有上传文件 {upload_id}", field="upload_id")
        return up.filename, up.sha256, up.content
