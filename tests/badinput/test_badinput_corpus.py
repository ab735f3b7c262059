"""The bad-input corpus (``badinput_cases.CASES``): every row gets its expected 4xx (API) or exit code 2
(CLI), a message in English and Chinese containing the row's words, no traceback, no server path —
and nothing recorded as complete: no succeeded run, no stored or submitted submission version, no
new account, no output folder.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from badinput_cases import CASES, PENDING, Case, Ctx
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from qingshan.cli import app as cli_app
from qingshan.store.models import Run
from qingshan.store.platform_models import SubmissionVersion, User

KINDS = ("rasters", "vectors", "tables", "forms", "configs", "api")


def test_corpus_is_a_table_of_at_least_100_cases_across_every_kind() -> None:
    assert len(CASES) >= 100
    assert len({c.id for c in CASES}) == len(CASES), "case ids must be unique"
    counts = Counter(c.kind for c in CASES)
    assert set(counts) == set(KINDS), counts
    for c in CASES:
        assert c.en and c.zh, c.id
        assert all(any("\u4e00" <= ch <= "\u9fff" for ch in w) or w.isascii() for w in c.zh), c.id
        assert (c.entry.startswith("qingshan ") and c.status == 2) or 400 <= c.status < 500, c.id


def _has_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


# ----------------------------------------------------------------------------- API
def _snapshot(factory: Any) -> dict[str, int]:
    with factory() as s:
        return {
            "succeeded_runs": s.scalar(select(func.count()).select_from(Run).where(Run.status == "succeeded")) or 0,
            "versions": s.scalar(select(func.count()).select_from(SubmissionVersion)) or 0,
            "complete_versions": s.scalar(select(func.count()).select_from(SubmissionVersion).where(
                SubmissionVersion.status.in_(("submitted", "approved")))) or 0,
            "users": s.scalar(select(func.count()).select_from(User)) or 0,
        }


def _send(client: TestClient, spec: dict[str, Any], auth: dict[str, dict[str, str]]) -> Any:
    headers = dict(spec.get("headers") or {})
    if spec.get("user"):
        headers.update(auth[spec["user"]])
    kwargs: dict[str, Any] = {"headers": headers}
    for key in ("json", "content", "files", "data"):
        if key in spec:
            kwargs[key] = spec[key]
    return client.request(spec["method"], spec["path"], **kwargs)


def _messages(body: Any) -> tuple[str, str]:
    """(English, Chinese) text of an error body, or of a stored version's cell errors."""
    if isinstance(body, dict) and "message_en" in body:
        return (" ".join(str(body.get(k) or "") for k in ("message_en", "fix", "field", "file")),
                " ".join(str(body.get(k) or "") for k in ("message_zh", "fix_zh")))
    errors = body["versions"][-1]["errors"]
    return " ".join(e["message_en"] for e in errors), " ".join(e["message_zh"] for e in errors)


def _check_words(case: Case, en: str, zh: str) -> None:
    for w in case.en:
        assert w.lower() in en.lower(), f"{case.id}: {w!r} not in {en[:600]!r}"
    for w in case.zh:
        assert w in zh, f"{case.id}: {w!r} not in {zh[:600]!r}"
    assert _has_cjk(zh), f"{case.id}: no Chinese message"


def _no_server_paths(case: Case, text: str, store: SimpleNamespace) -> None:
    tmp = tempfile.gettempdir()
    assert tmp not in text and str(Path(store.url.removeprefix("sqlite:///")).parent) not in text, \
        f"{case.id}: a server path leaks: {text[:600]}"


API_CASES = [c for c in CASES if not c.entry.startswith("qingshan ")]
CLI_CASES = [c for c in CASES if c.entry.startswith("qingshan ")]


@pytest.mark.parametrize("case", API_CASES, ids=[c.id for c in API_CASES])
def test_api_case(case: Case, corpus_client: TestClient, corpus_auth: dict[str, dict[str, str]],
                  corpus_store: SimpleNamespace, tmp_path: Path, example_dir: Path) -> None:
    spec = case.build(Ctx(tmp_path, example_dir, corpus_store.run_id))
    before = _snapshot(corpus_store.factory)
    r = _send(corpus_client, spec, corpus_auth)
    _no_server_paths(case, r.text, corpus_store)
    assert "Traceback" not in r.text
    if spec.get("submit"):
        assert r.status_code == 201, f"{case.id}: {r.status_code} {r.text[:400]}"
        body = r.json()
        version = body["versions"][-1]
        assert version["status"] == "draft" and version["n_errors"] > 0, case.id
        en, zh = _messages(body)
        sub = corpus_client.post(f"/api/submissions/{body['id']}/versions/{version['version']}/submit",
                                 headers=corpus_auth[spec["user"]])
        assert sub.status_code == case.status, f"{case.id}: submit gave {sub.status_code} {sub.text[:300]}"
        assert len(r.content) < 200_000, f"{case.id}: the stored errors are not bounded ({len(r.content)} bytes)"
    else:
        assert r.status_code == case.status, f"{case.id}: {r.status_code} {r.text[:600]}"
        en, zh = _messages(r.json())
    _check_words(case, en, zh)
    after = _snapshot(corpus_store.factory)
    assert after["succeeded_runs"] == before["succeeded_runs"], case.id
    assert after["complete_versions"] == before["complete_versions"], f"{case.id}: a version was submitted"
    assert after["users"] == before["users"], f"{case.id}: an account was created"
    assert after["versions"] == before["versions"] + (1 if spec.get("submit") else 0), \
        f"{case.id}: a refused upload was stored"


# ----------------------------------------------------------------------------- CLI
def _succeeded_runs(tmp: Path) -> int:
    from qingshan.store import repo
    from qingshan.store.db import open_store

    total = 0
    for db in tmp.rglob("*.sqlite"):
        total += len(repo.list_runs(open_store(f"sqlite:///{db}"), status="succeeded"))
    return total


PENDING_PARAMS = [pytest.param(case, id=case.id, marks=pytest.mark.xfail(strict=True, reason=reason))
                  for case, reason in PENDING.values()]


@pytest.mark.parametrize("case", [*CLI_CASES, *PENDING_PARAMS],
                         ids=[*(c.id for c in CLI_CASES), *(c.id for c, _ in PENDING.values())])
def test_cli_case(case: Case, tmp_path: Path, example_dir: Path, corpus_store: SimpleNamespace) -> None:
    spec = case.build(Ctx(tmp_path, example_dir, corpus_store.run_id))
    users_before = _users(tmp_path)
    try:
        result = CliRunner().invoke(cli_app, spec["args"], input=spec.get("input"), env=spec.get("env") or {})
    finally:
        if spec.get("hold") is not None:
            spec["hold"].close()
    out = " ".join((result.output + (result.stderr if result.stderr_bytes is not None else "")).split())
    assert result.exit_code == case.status, f"{case.id}: exit {result.exit_code}: {out[:800]} {result.exception!r}"
    assert isinstance(result.exception, SystemExit | None), f"{case.id}: {result.exception!r}"
    assert "Traceback" not in out, case.id
    assert "Error 错误" in out, f"{case.id}: not printed by the error printer: {out[:400]}"
    _check_words(case, out, out)
    assert not (tmp_path / "out").exists(), f"{case.id}: an output folder was created"
    assert not list(tmp_path.glob(".out.tmp-*")), f"{case.id}: a temporary export folder was left"
    assert _succeeded_runs(tmp_path) == 0, case.id
    assert _users(tmp_path) == users_before, f"{case.id}: an account was created"


def _users(tmp: Path) -> int:
    db = tmp / "store.sqlite"
    if not db.exists():
        return 0
    from qingshan.store.db import open_store

    with open_store(f"sqlite:///{db}")() as s:
        return s.scalar(select(func.count()).select_from(User)) or 0

