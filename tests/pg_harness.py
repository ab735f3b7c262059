"""A throw-away PostgreSQL server for tests, from Debian's ``postgresql`` package.

The server is initialised (``initdb``) into a fresh temporary directory, started with ``pg_ctl`` on a
free port of 127.0.0.1 (TCP) plus a private Unix-socket directory, and deleted when the last user
releases it. Postgres refuses to run as root, so as root the harness runs the server as the system
user :data:`PG_USER` (created on first use); as any other user it runs as that user.

Use from a conftest (any test folder; ``tests/`` is on ``sys.path``)::

    from pg_harness import pg_server, pg_database_url  # noqa: F401  (re-exported fixtures)

``pg_server`` is session-scoped and shared: two conftests that both re-export it still start one
server (reference-counted). ``pg_database_url`` yields the SQLAlchemy URL of a fresh, empty database
(``postgresql+psycopg://postgres@127.0.0.1:PORT/NAME``) and drops it afterwards.

When the binaries (or the ``psycopg`` driver) are missing, the fixtures *skip* with the fix in the
reason, unless ``CI=true``: then they *fail*, so CI can never pass with the PostgreSQL tests skipped.
``make test`` installs the package first (``tools/ensure_system_deps.sh``).
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

__all__ = [
    "BACKENDS",
    "PG_USER",
    "PgServer",
    "PgUnavailable",
    "acquire",
    "find_pg_bin",
    "pg_database_url",
    "pg_server",
    "release",
]

PG_USER = "qingshan-test"  # system user that owns the server when the tests run as root
SUPERUSER = "postgres"  # database superuser created by initdb (trust auth, loopback only)
START_TIMEOUT_S = 60  # pg_ctl -w -t: generous for a loaded 2-core CI machine
FIX_EN = "Install Debian's PostgreSQL server: `apt-get install postgresql` (or run `make test`, which does)."
FIX_ZH = "请安装 Debian 的 PostgreSQL 服务器：`apt-get install postgresql`（或运行会自动安装的 `make test`）。"

# Parameters for suites that run once per backend: ``@pytest.fixture(params=BACKENDS)``.
BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]

# Speed over durability: the cluster is deleted after the session anyway.
_SERVER_OPTIONS = ("-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   "-c max_connections=200 -c listen_addresses=127.0.0.1")


class PgUnavailable(RuntimeError):
    """The PostgreSQL server cannot be provided here (binaries or driver missing)."""


@dataclass(frozen=True)
class PgServer:
    """A running test server: where its binaries and data are, and how to reach it."""

    bin_dir: Path
    root: Path  # temporary directory holding data/, sock/ and server.log
    port: int
    host: str = "127.0.0.1"

    @property
    def data_dir(self) -> Path:
        """The cluster directory made by ``initdb``."""
        return self.root / "data"

    @property
    def log_file(self) -> Path:
        """The server log (read it when a test fails on the server side)."""
        return self.root / "server.log"

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL of ``database`` on this server (psycopg 3 driver)."""
        return f"postgresql+psycopg://{SUPERUSER}@{self.host}:{self.port}/{database}"

    def execute(self, sql: str) -> None:
        """Run one statement in autocommit mode on the ``postgres`` database."""
        import psycopg

        with psycopg.connect(host=self.host, port=self.port, user=SUPERUSER, dbname="postgres",
                             autocommit=True, connect_timeout=10) as conn:
            conn.execute(sql.encode())

    def create_database(self, name: str | None = None) -> str:
        """Create an empty UTF-8 database; return its URL. ``name`` defaults to a random one."""
        name = name or f"t_{uuid.uuid4().hex[:16]}"
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
            raise ValueError(f"database name {name!r}: use [a-z_][a-z0-9_]* (max 63) / 数据库名只能用小写字母、数字和下划线")
        self.execute(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'")
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop a database, closing any connection still open to it (PostgreSQL ≥ 13)."""
        self.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


# ----------------------------------------------------------------------------- finding binaries
def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", path.parent.name)) or (0,)


def _is_server_dir(d: Path) -> bool:
    return all(os.access(d / exe, os.X_OK) for exe in ("initdb", "pg_ctl", "postgres"))


def find_pg_bin() -> Path | None:
    """Directory of ``initdb``/``pg_ctl``/``postgres``, or ``None``.

    Order: ``$QINGSHAN_PG_BIN``; Debian's ``/usr/lib/postgresql/<newest>/bin`` (the package's own
    location, present on every machine that installed ``postgresql``); else ``pg_ctl`` on ``PATH``
    (e.g. another distribution), resolved through symlinks.
    """
    env = os.environ.get("QINGSHAN_PG_BIN")
    if env:
        return Path(env) if _is_server_dir(Path(env)) else None
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True)
    for d in debian:
        if _is_server_dir(d):
            return d
    on_path = shutil.which("pg_ctl")
    if on_path:
        d = Path(on_path).resolve().parent
        if _is_server_dir(d):
            return d
    return None


# ----------------------------------------------------------------------------- running as non-root
def _server_user() -> str | None:
    """The user to run the server as: :data:`PG_USER` when we are root (created if needed), else ``None``."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(PG_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
                        "--shell", "/usr/sbin/nologin", PG_USER], check=True, capture_output=True)
    return PG_USER


def _run(args: list[str], user: str | None, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8",
           "TZ": "UTC", "PGTZ": "UTC"}
    if user is None:
        return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    gid = pwd.getpwnam(user).pw_gid
    return subprocess.run(args, user=user, group=gid, extra_groups=[], cwd=cwd, env=env,
                          capture_output=True, text=True, check=False)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _check(proc: subprocess.CompletedProcess[str], what: str, log: Path | None = None) -> None:
    if proc.returncode == 0:
        return
    tail = log.read_text(errors="replace")[-3000:] if log is not None and log.exists() else ""
    raise RuntimeError(f"{what} failed (exit {proc.returncode}) / {what} 失败\n"
                       f"stdout: {proc.stdout}\nstderr: {proc.stderr}\nserver.log (tail): {tail}")


def start_server(bin_dir: Path, *, attempts: int = 3) -> PgServer:
    """``initdb`` a fresh cluster in a new temporary directory and start it on a free loopback port.

    The directory is made with :func:`tempfile.mkdtemp` under the system temp dir (not pytest's
    ``tmp_path``, whose parents are private to the current user) and owned by the server user.
    A port taken between probing and binding is retried with another port (``attempts`` times).
    """
    user = _server_user()
    root = Path(tempfile.mkdtemp(prefix="qingshan-pg-"))
    (root / "sock").mkdir()
    if user is not None:
        for p in (root, root / "sock"):
            shutil.chown(p, user=user, group=user)
    proc = _run([str(bin_dir / "initdb"), "-D", str(root / "data"), "-U", SUPERUSER, "--auth=trust",
                 "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions"], user, root)
    try:
        _check(proc, "initdb")
        for _ in range(attempts):
            server = PgServer(bin_dir=bin_dir, root=root, port=_free_port())
            opts = f"-p {server.port} -k {root / 'sock'} {_SERVER_OPTIONS}"
            proc = _run([str(bin_dir / "pg_ctl"), "-D", str(server.data_dir), "-l", str(server.log_file),
                         "-w", "-t", str(START_TIMEOUT_S), "-o", opts, "start"], user, root)
            if proc.returncode == 0:
                return server
        _check(proc, "pg_ctl start", root / "server.log")
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    raise AssertionError("unreachable")


def stop_server(server: PgServer) -> None:
    """Stop the server (fast shutdown) and delete its directory."""
    user = _server_user()
    try:
        _run([str(server.bin_dir / "pg_ctl"), "-D", str(server.data_dir), "-m", "fast", "-w", "stop"],
             user, server.root)
    finally:
        shutil.rmtree(server.root, ignore_errors=True)


# ----------------------------------------------------------------------------- shared session server
@dataclass
class _Shared:
    """The session's one server and how many fixtures hold it."""

    server: PgServer | None = None
    users: int = 0


_lock = threading.Lock()
_shared = _Shared()


def _require() -> Path:
    bin_dir = find_pg_bin()
    if bin_dir is None:
        raise PgUnavailable(f"PostgreSQL server binaries (initdb, pg_ctl, postgres) not found under "
                            f"/usr/lib/postgresql/*/bin, $QINGSHAN_PG_BIN or PATH. {FIX_EN} / "
                            f"未找到 PostgreSQL 服务器程序。{FIX_ZH}")
    try:
        import psycopg  # noqa: F401
    except ImportError as exc:
        raise PgUnavailable("The psycopg driver is not installed: `pip install -e '.[web,dev]'` / "
                            "未安装 psycopg 驱动：请运行 `pip install -e '.[web,dev]'`") from exc
    return bin_dir


def acquire() -> PgServer:
    """The shared server, started on first use (raises :class:`PgUnavailable` when it cannot be)."""
    with _lock:
        if _shared.server is None:
            _shared.server = start_server(_require())
        _shared.users += 1
        return _shared.server


def release() -> None:
    """Give the shared server back; the last user stops and deletes it."""
    with _lock:
        _shared.users -= 1
        if _shared.users == 0 and _shared.server is not None:
            server, _shared.server = _shared.server, None
            stop_server(server)


def in_ci() -> bool:
    """``True`` under CI (``CI=true``), where an unavailable server is a failure, not a skip."""
    return os.environ.get("CI", "").lower() in {"true", "1", "yes"}


def skip_or_fail(reason: str) -> None:
    """Skip the test with ``reason``; under CI fail with it instead."""
    if in_ci():
        pytest.fail(f"CI=true and the PostgreSQL tests cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """The shared PostgreSQL test server (skip without binaries; fail under CI)."""
    try:
        server = acquire()
    except PgUnavailable as exc:
        skip_or_fail(str(exc))
        raise AssertionError("unreachable") from exc
    try:
        yield server
    finally:
        release()


@pytest.fixture
def pg_database_url(pg_server: PgServer) -> Iterator[str]:
    """URL of a fresh empty database on the shared server, dropped after the test."""
    url = pg_server.create_database()
    try:
        yield url
    finally:
        pg_server.drop_database(url.rsplit("/", 1)[1])
