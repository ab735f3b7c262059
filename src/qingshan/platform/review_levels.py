"""Multi-level review (多级审核: county → city → province), where a reporting task configures it.

A reporting task (:mod:`qingshan.platform.reporting`) may name ``review_levels``, e.g. ``["city",
"province"]``. A submitted version of the task's form group and year is then approved level by level,
in that order, before it is approved (and locked):

- the reviewer of a level must hold that level for **every** region of the version's rows: a scope
  code of that level covering them (``3601xx`` rows → ``360100`` for the city level, ``360000`` for
  the province level). A reviewer with no region scope (or ``*``), an accountant or an administrator
  holds the top level (province) only;
- one person approves one level of a version at most (four eyes per level);
- each level's approval is one row (unique per version and level) written with its audit line in one
  transaction: of two concurrent approvals of the same level one wins, the other gets 409;
- the last level's approval is the version's approval (the conditional ``submitted → approved`` of
  :func:`qingshan.platform.submissions.review`); a rejection at any level rejects the version.

Without a task naming levels a version is reviewed once, as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from qingshan.core.errors import InputError
from qingshan.platform.accounts import Principal, in_region_scope
from qingshan.platform.audit import record
from qingshan.platform.errors import PermissionDeniedError, StateError
from qingshan.store.platform_models import LevelApproval, ReportingTask, SubmissionVersion

__all__ = ["LEVELS", "approve_level", "check_levels", "held_levels", "level_state", "required_levels"]

LEVELS = ("county", "city", "province")
LEVEL_ZH = {"county": "县级", "city": "市级", "province": "省级"}


def check_levels(levels: Iterable[str]) -> list[str]:
    """Validated levels: known, no repeats, from the lowest to the highest (county → city → province)."""
    out = [str(x).strip() for x in levels]
    bad = [x for x in out if x not in LEVELS]
    if bad or len(set(out)) != len(out) or out != sorted(out, key=LEVELS.index):
        raise InputError(f"review_levels must be distinct levels in order county, city, province; got {out}",
                         f"审核层级应为不重复的 county、city、province，且自下而上排列；实为 {out}",
                         field="review_levels", fix='e.g. ["city", "province"], or [] for one review.',
                         fix_zh='如 ["city", "province"]；只审核一次则为 []。')
    return out


def _level_of(code: str) -> str:
    code = str(code).strip()
    if code == "*" or code.endswith("0000"):
        return "province"
    return "city" if code.endswith("00") else "county"


def held_levels(principal: Principal) -> list[tuple[str, str]]:
    """(level, scope code) pairs the user may review at; ``*`` covers every region."""
    if principal.role in ("accountant", "admin") or not principal.regions or "*" in principal.regions:
        return [("province", "*")]
    return [(_level_of(c), c) for c in principal.regions]


def _holds(principal: Principal, level: str, codes: Sequence[str]) -> bool:
    return any(lv == level and (scope == "*" or all(in_region_scope(c, [scope]) for c in codes))
               for lv, scope in held_levels(principal))


def required_levels(s: Session, group: str, year: int) -> list[str]:
    """The review levels of the newest reporting task of ``group`` and ``year`` ([] = one review)."""
    task = s.scalars(select(ReportingTask).where(ReportingTask.group == group, ReportingTask.year == year)
                     .order_by(ReportingTask.id.desc())).first()
    return list(task.review_levels or []) if task is not None else []


def level_state(s: Session, version_id: int, levels: Sequence[str]) -> dict[str, Any]:
    """``{"required": [...], "done": [{level, reviewer, at, comment}], "next": level | None}``."""
    done = list(s.scalars(select(LevelApproval).where(LevelApproval.version_id == version_id)
                          .order_by(LevelApproval.id)))
    got = [d.level for d in done]
    nxt = next((lv for lv in levels if lv not in got), None)
    return {"required": list(levels), "next": nxt,
            "done": [{"level": d.level, "reviewer": d.reviewer, "at": d.at, "comment": d.comment} for d in done]}


def _codes(v: SubmissionVersion) -> list[str]:
    data = v.data or {}
    return sorted({str(r["region_code"]) for key in ("statistics", "prices") for r in data.get(key, [])
                   if isinstance(r, dict) and r.get("region_code")})


def approve_level(factory: sessionmaker[Session], principal: Principal, submission_id: int, version: int,
                  group: str, year: int, comment: str | None) -> bool | None:
    """Record the next level's approval of a submitted version under multi-level review.

    Returns None when no levels are configured (review once), False when a lower level was recorded
    (the version stays submitted), True when the level recorded is the last one (the caller then
    approves the version)."""
    with factory.begin() as s:
        levels = required_levels(s, group, year)
        if not levels:
            return None
        v = s.scalars(select(SubmissionVersion).where(SubmissionVersion.submission_id == submission_id,
                                                      SubmissionVersion.version == version)).first()
        if v is None or v.status != "submitted":
            return None  # the transition reports the state error in both languages
        state = level_state(s, v.id, levels)
        nxt = state["next"]
        if nxt is None:
            return True
        if any(d["reviewer"] == principal.username for d in state["done"]):
            raise PermissionDeniedError(
                f"{principal.username} already approved a level of this version: another reviewer approves the "
                f"{nxt} level", f"{principal.username} 已审核过本版本的一个层级，{LEVEL_ZH[nxt]}审核须由另一人完成",
                field="reviewer", fix="Ask the reviewer of the next level.", fix_zh="请由下一层级的审核员审核。")
        codes = _codes(v)
        if not _holds(principal, nxt, codes):
            raise PermissionDeniedError(
                f"Version {version} awaits the {nxt} level review of regions {', '.join(codes[:5])}; "
                f"{principal.username} does not hold that level for them",
                f"第 {version} 版待{LEVEL_ZH[nxt]}审核（区划 {', '.join(codes[:5])}），{principal.username} 不具备该层级的审核范围",
                field="level", fix=f"A reviewer whose regions are the {nxt} covering these codes approves it.",
                fix_zh=f"请由负责这些区划的{LEVEL_ZH[nxt]}审核员审核。")
        s.add(LevelApproval(version_id=v.id, level=nxt, reviewer=principal.username, comment=comment,
                            at=datetime.now(UTC)))
        try:
            s.flush()
        except IntegrityError as exc:
            raise StateError(f"The {nxt} level of version {version} was approved meanwhile",
                             f"第 {version} 版的{LEVEL_ZH[nxt]}审核已由他人完成", field="level",
                             fix="Reload the submission.", fix_zh="请刷新后查看。") from exc
        record(s, principal.actor, "submission.approve_level", "submission", submission_id,
               {"version": version, "level": nxt, "comment": comment, "levels": levels})
        return nxt == levels[-1]
