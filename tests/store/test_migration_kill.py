"""kill -9 during a schema migration (issue 8, crash safety).

A child process upgrades an empty SQLite store to head and is killed (SIGKILL, no clean-up) right
after its k-th SQL statement, for k spread from the first to the last statement of a full upgrade.
Afterwards, opening the store must bring it to head, pass ``PRAGMA integrity_check`` and give the
same schema as an uninterrupted upgrade: a half-applied migration must never be left behind.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from qingshan.store.db import open_store, sqlite_url

CHILD = textwrap.dedent("""
    import os, signal, sys
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    limit = int(sys.argv[2])
    count = 0

    @event.listens_for(Engine, "after_cursor_execute")
    def _die(conn, cursor, statement, parameters, context, executemany):
        global count
        count += 1
        if limit and count >= limit:
            os.kill(os.getpid(), signal.SIGKILL)

    from qingshan.store.db import migrate
    migrate(sys.argv[1])
    print(count)
""")


def _run_child(url: str, limit: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run([sys.executable, "-c", CHILD, url, str(limit)], capture_output=True, text=True,
                          env=env, timeout=120, check=False)


def _schema(url: str) -> dict[str, list[str]]:
    eng = create_engine(url)
    try:
        insp = inspect(eng)
        return {t: sorted(c["name"] for c in insp.get_columns(t)) for t in sorted(insp.get_table_names())}
    finally:
        eng.dispose()


def _integrity(url: str) -> str:
    eng = create_engine(url)
    try:
        with eng.connect() as conn:
            return str(conn.execute(text("PRAGMA integrity_check")).scalar())
    finally:
        eng.dispose()


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, list[str]]]:
    """Statements of a full upgrade, and the schema it gives."""
    url = sqlite_url(tmp_path_factory.mktemp("ref") / "q.sqlite")
    done = _run_child(url, 0)
    assert done.returncode == 0, done.stderr
    return int(done.stdout.strip().splitlines()[-1]), _schema(url)


def test_killed_migration_recovers_to_the_same_schema(reference: tuple[int, dict[str, list[str]]],
                                                       tmp_path: Path) -> None:
    n, schema = reference
    assert n > 5
    points = sorted({1, 3, n // 3, n // 2, (3 * n) // 4, n - 1})
    for k in points:
        url = sqlite_url(tmp_path / f"k{k}.sqlite")
        killed = _run_child(url, k)
        assert killed.returncode == -signal.SIGKILL, (k, killed.stderr[-2000:])
        open_store(url)  # the next start migrates what is left
        assert _integrity(url) == "ok", k
        assert _schema(url) == schema, k
