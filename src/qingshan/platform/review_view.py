"""What a reviewer sees before approving a submission (审核视图): its rows, what changed, what looks wrong.

For one version of a submission, every statistics row (region × item) with

- the value of the **previous version** of the same submission (and the rows added or removed since);
- the value **approved for the year before** (any submitter's latest approved version, the later
  approval winning, as :func:`qingshan.platform.submissions.approved_data` takes them), with the
  change in per cent when the units agree, and a flag when they do not (a unit change is the
  commonest cause of a 10 000× error);
- **plausibility flags**: the statistics bounds kept as data
  (:mod:`qingshan.quantities.statistics_bounds`, severity ``error`` = a run would stop, ``warning``),
  and a jump of more than :data:`JUMP_PCT` per cent against the year before;
- the reviewers' **comments on that row** (append-only, :class:`ReviewComment`).

A raster version shows its facts (grid, CRS, range, median, p99) and a preview image
(:func:`raster_preview_png`). The view reads; it never changes the submission.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from qingshan.core.errors import InputError
from qingshan.platform.accounts import Principal
from qingshan.platform.audit import record
from qingshan.platform.errors import NotFoundError, PermissionDeniedError, StateError
from qingshan.platform.forms import statistics_frame
from qingshan.platform.submissions import REVIEWERS, approved_data, get_submission, read_upload
from qingshan.store.platform_models import FormSubmission, ReviewComment, SubmissionVersion

__all__ = ["JUMP_PCT", "add_comment", "raster_preview_png", "review_view", "row_flags"]

JUMP_PCT = 50.0  # |change| against the year before above which a row is flagged (a warning, not an error)
MAX_COMMENT = 1000
PREVIEW_PX = 512


def _key(r: Mapping[str, Any]) -> tuple[str, str]:
    return str(r.get("region_code")), str(r.get("item"))


def _index(rows: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str], Mapping[str, Any]]:
    return {_key(r): r for r in rows}


def _pct(new: float, old: float) -> float | None:
    return None if old == 0 else (new - old) / abs(old) * 100.0


# ----------------------------------------------------------------------------- plausibility
def row_flags(rows: Sequence[Mapping[str, Any]], regions: Any) -> list[list[dict[str, str]]]:
    """For each row, the bounds it breaks: ``{"code": "bounds", "severity", "en", "zh"}`` from the
    shipped bounds table (:func:`qingshan.quantities.statistics_bounds.bound_findings`; ``error`` = a run
    would stop on it). Rows of regions outside the platform's boundaries are not judged (as in a run)."""
    from qingshan.quantities.statistics_bounds import bound_findings

    frame = statistics_frame(rows)
    frame.index = range(len(frame))
    out: list[list[dict[str, str]]] = [[] for _ in rows]
    for f in bound_findings(frame, regions):
        out[int(f.line)].append({"code": "bounds", "severity": f.bound.severity, "en": f.en, "zh": f.zh})
    return out


# ----------------------------------------------------------------------------- the view
def _comments(s: Session, version_id: int) -> list[dict[str, Any]]:
    return [{"id": c.id, "region_code": c.region_code, "item": c.item, "comment": c.comment, "author": c.author,
             "at": c.at} for c in s.scalars(select(ReviewComment).where(ReviewComment.version_id == version_id)
                                           .order_by(ReviewComment.id))]


def _version_id(s: Session, submission_id: int, version: int) -> int | None:
    return s.scalar(select(SubmissionVersion.id).where(SubmissionVersion.submission_id == submission_id,
                                                       SubmissionVersion.version == version))


def _last_year(factory: sessionmaker[Session], group: str, year: int) -> dict[tuple[str, str], Mapping[str, Any]]:
    data = approved_data(factory, [year - 1])
    with factory() as s:
        groups = {sub.id: sub.group for sub in s.scalars(select(FormSubmission).where(FormSubmission.year == year - 1))}
    rows: list[Mapping[str, Any]] = []
    # approved_data mixes groups; keep the rows of submissions of the same group, in approval order
    ordered = [v for v in data.versions if groups.get(int(v["submission"])) == group]
    with factory() as s:
        for v in ordered:
            vid = _version_id(s, int(v["submission"]), int(v["version"]))
            row = s.get(SubmissionVersion, vid) if vid is not None else None
            if row is not None:
                rows.extend((row.data or {}).get("statistics", []))
    return _index(rows)


def _row_view(r: Mapping[str, Any], prev: Mapping[str, Any] | None, last: Mapping[str, Any] | None,
              flags: list[dict[str, str]], comments: list[dict[str, Any]], has_prev: bool) -> dict[str, Any]:
    value, unit = float(r["value"]), str(r.get("unit") or "")
    out: dict[str, Any] = {**{k: r.get(k) for k in ("region_code", "item", "value", "unit", "source", "year")},
                           "previous": None, "change_previous_pct": None, "status_previous": None,
                           "last_year": None, "last_year_unit": None, "change_last_year_pct": None,
                           "flags": list(flags), "comments": comments}
    if has_prev:
        if prev is None:
            out["status_previous"] = "added"
        else:
            out["previous"] = prev.get("value")
            same = float(prev["value"]) == value and str(prev.get("unit") or "") == unit
            out["status_previous"] = "unchanged" if same else "changed"
            if str(prev.get("unit") or "") == unit:
                out["change_previous_pct"] = _pct(value, float(prev["value"]))
    if last is not None:
        out["last_year"], out["last_year_unit"] = last.get("value"), str(last.get("unit") or "")
        if out["last_year_unit"] != unit:
            out["flags"].append({"code": "unit_changed", "severity": "warning",
                                 "en": f"Unit {unit} differs from last year's {out['last_year_unit']}: check the scale",
                                 "zh": f"单位 {unit} 与上年 {out['last_year_unit']} 不同，请核对数量级"})
        else:
            pct = _pct(value, float(last["value"]))
            out["change_last_year_pct"] = pct
            if pct is not None and abs(pct) > JUMP_PCT:
                out["flags"].append({"code": "jump", "severity": "warning",
                                     "en": f"{pct:+.1f}% against last year ({last['value']:g} {unit})",
                                     "zh": f"比上年变化 {pct:+.1f}%（上年 {last['value']:g} {unit}）"})
    return out


def review_view(factory: sessionmaker[Session], principal: Principal, submission_id: int, version: int, *,
                regions: Any = None) -> dict[str, Any]:
    """The reviewer's view of ``version`` (see the module docstring). ``regions`` (a RegionSet of the
    platform's boundaries) enables the bounds checks; without it only the comparisons are made."""
    sub = get_submission(factory, principal, submission_id)  # visibility and 404 as for the submission
    versions = {v["version"]: v for v in sub["versions"]}
    if version not in versions:
        raise _missing_version(submission_id, version)
    v = versions[version]
    rows = list((v.get("data") or {}).get("statistics", []))
    prev_v = versions.get(version - 1)
    prev = _index((prev_v.get("data") or {}).get("statistics", [])) if prev_v else {}
    last = _last_year(factory, sub["group"], int(sub["year"])) if sub["group"] != "rasters" else {}
    flags = row_flags(rows, regions) if regions is not None and rows else [[] for _ in rows]
    from qingshan.platform.review_levels import level_state, required_levels

    with factory() as s:
        vid = _version_id(s, submission_id, version)
        comments = _comments(s, vid) if vid is not None else []
        levels = required_levels(s, sub["group"], int(sub["year"]))
        level_info = level_state(s, vid, levels) if vid is not None and levels else None
    by_row: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for c in comments:
        by_row.setdefault((c["region_code"], c["item"]), []).append(c)
    views = [_row_view(r, prev.get(_key(r)), last.get(_key(r)), f, by_row.get(_key(r), []), prev_v is not None)
             for r, f in zip(rows, flags, strict=True)]
    now = {_key(r) for r in rows}
    removed = [dict(r) for k, r in prev.items() if k not in now]
    out = {k: v.get(k) for k in ("version", "status", "sha256", "created_by", "created_at", "submitted_at",
                                  "reviewed_by", "reviewed_at", "review_comment", "n_errors")}
    out.update({"submission_id": submission_id, "group": sub["group"], "year": sub["year"],
                "variable": sub["variable"], "previous_version": version - 1 if prev_v else None,
                "rows": views, "removed_since_previous": removed,
                "prices": list((v.get("data") or {}).get("prices", [])),
                "raster": (v.get("data") or {}).get("raster") if sub["group"] == "rasters" else None,
                "comments": by_row.get(("", ""), []), "review_levels": level_info,
                "counts": {"rows": len(views), "flagged": sum(1 for r in views if r["flags"]),
                           "errors": sum(1 for r in views if any(f["severity"] == "error" for f in r["flags"]))}})
    return out


def _missing_version(submission_id: int, version: int) -> NotFoundError:
    return NotFoundError(f"No version {version} of submission {submission_id}",
                        f"填报 {submission_id} 没有第 {version} 版", field="version",
                        fix=f"List the versions with GET /api/submissions/{submission_id}.",
                        fix_zh=f"用 GET /api/submissions/{submission_id} 查看各版本。")


# ----------------------------------------------------------------------------- comments
def add_comment(factory: sessionmaker[Session], principal: Principal, submission_id: int, version: int, *,
                comment: str, region_code: str = "", item: str = "") -> dict[str, Any]:
    """Append a reviewer's comment on one row (``region_code`` + ``item`` of the version) or on the
    whole version (both empty). Only reviewers; only on a submitted version (under review)."""
    if principal.role not in REVIEWERS:
        raise PermissionDeniedError(f"Role '{principal.role}' cannot comment on submissions",
                                    f"角色“{principal.role}”不能填写审核意见", field="role",
                                    fix="Ask a reviewer.", fix_zh="请由审核员填写。")
    text = str(comment or "").strip()
    if not text or len(text) > MAX_COMMENT:
        raise InputError(f"A comment needs 1 to {MAX_COMMENT} characters", f"审核意见应为 1 至 {MAX_COMMENT} 个字符",
                         field="comment", fix="Write the comment.", fix_zh="请填写审核意见。")
    view = get_submission(factory, principal, submission_id)
    v = next((x for x in view["versions"] if x["version"] == version), None)
    if v is None:
        raise _missing_version(submission_id, version)
    if v["status"] != "submitted":
        raise StateError(f"Version {version} is {v['status']}: comments are made while it is under review",
                         f"第 {version} 版状态为 {v['status']}：只能在审核期间填写意见", field="version",
                         fix="Comment on the submitted version.", fix_zh="请对已提交待审核的版本填写意见。")
    key = (str(region_code or "").strip(), str(item or "").strip())
    if key != ("", "") and key not in {_key(r) for r in (v.get("data") or {}).get("statistics", [])}:
        raise InputError(f"Version {version} has no row for region {key[0]}, item {key[1]}",
                         f"第 {version} 版没有区划 {key[0]}、项目 {key[1]} 的数据行", field="item",
                         fix="Use the region code and item of a row of the version.",
                         fix_zh="请使用该版本中某一行的区划代码与项目。")
    with factory.begin() as s:
        vid = _version_id(s, submission_id, version)
        c = ReviewComment(version_id=vid, region_code=key[0], item=key[1], comment=text, author=principal.username,
                          at=datetime.now(UTC))
        s.add(c)
        s.flush()
        record(s, principal.actor, "submission.comment", "submission", submission_id,
               {"version": version, "region_code": key[0], "item": key[1]})
        return {"id": c.id, "region_code": c.region_code, "item": c.item, "comment": c.comment,
                "author": c.author, "at": c.at}


# ----------------------------------------------------------------------------- raster preview
def raster_preview_png(factory: sessionmaker[Session], principal: Principal, submission_id: int, version: int) -> bytes:
    """A PNG preview (at most 512 px a side, decimated read) of a raster version, with a colour bar."""
    filename, _ctype, content = read_upload(factory, principal, submission_id, version)
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import rasterio

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "raster.tif"
        path.write_bytes(content)
        try:
            with rasterio.open(path) as src:
                scale = max(src.width, src.height) / PREVIEW_PX
                shape = (max(1, int(src.height / max(scale, 1))), max(1, int(src.width / max(scale, 1))))
                data = src.read(1, out_shape=shape, masked=True).astype("float64").filled(np.nan)
        except rasterio.errors.RasterioIOError as exc:
            raise InputError(f"'{filename}' is not a readable raster", f"“{filename}”不是可读取的栅格",
                             file=filename, fix="Upload a GeoTIFF.", fix_zh="请上传 GeoTIFF。") from exc
    fig, ax = plt.subplots(figsize=(6, 6 * shape[0] / shape[1] + 0.6), dpi=90)
    im = ax.imshow(data, cmap="viridis")
    ax.set_axis_off()
    ax.set_title(filename, fontsize=9)
    fig.colorbar(im, ax=ax, shrink=0.7)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()
