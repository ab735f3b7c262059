"""Backup and restore of a results store with its run artifacts (``qingshan backup`` / ``restore``).

A backup is a folder::

    manifest.json        format, time (UTC, ISO 8601), backend, code version, every file with size and SHA-256
    store.sqlite         SQLite: a consistent copy made with the online backup API (sqlite3 ``Connection.backup``)
    store.pgdump         PostgreSQL: ``pg_dump -Fc`` (custom format, restored with ``pg_restore``)
    data/runs/<run id>/  the sealed artifacts of every run (copied byte for byte)

The store is copied first, then the artifacts: a run recorded as succeeded has sealed its
artifacts before its commit, so every run of the copied store has its files in the backup.
Restoring checks every SHA-256 of the manifest first, refuses a non-empty target store or data
dir unless ``force``, then loads the store, copies the artifacts (read-only again) and brings the
schema to the latest migration. Artifact paths are stored relative to the data dir, so the
restored copy works in any folder.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from qingshan.core.errors import ConfigError, InputError
from qingshan.core.params import file_sha256
from qingshan.store import artifacts

__all__ = ["BackupResult", "backup", "restore"]

FORMAT = "qingshan-backup/1"
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class BackupResult:
    """What a backup or restore copied."""

    folder: Path
    runs: int
    files: int
    bytes: int


def _is_sqlite(url: str) -> bool:
    return url.startswith("sqlite:///")


def _sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def _libpq_url(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as libpq understands it (no ``+driver``)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _run(cmd: list[str], what: str) -> None:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise ConfigError(
            f"{cmd[0]} is not installed: it is needed to {what} a PostgreSQL store",
            f"未安装 {cmd[0]}，{what} PostgreSQL 结果库需要它",
            fix="Install the PostgreSQL client tools (Debian: apt-get install postgresql-client) matching the server.",
            fix_zh="请安装与服务器版本一致的 PostgreSQL 客户端工具（Debian：apt-get install postgresql-client）。",
        ) from exc
    if out.returncode != 0:
        raise InputError(
            f"{cmd[0]} failed: {out.stderr.strip()[:500]}",
            f"{cmd[0]} 执行失败：{out.stderr.strip()[:500]}",
            fix="Check the store URL, the server and that the client tools match the server version.",
            fix_zh="请检查结果库地址、数据库服务器，以及客户端工具与服务器版本是否一致。",
        )


# ----------------------------------------------------------------------------- backup
def backup(store_url: str, dest: Path, *, data_dir: Path | None = None) -> BackupResult:
    """Copy the store at ``store_url`` and its run artifacts into the new or empty folder ``dest``."""
    from qingshan.core.codeversion import code_version

    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise InputError(
            f"Backup folder is not empty: {dest}",
            f"备份目录不是空的：{dest}",
            file=dest,
            fix="Give a new or empty folder (each backup goes to its own folder).",
            fix_zh="请指定新的或空的目录（每次备份使用单独的目录）。",
        )
    data_dir = Path(data_dir) if data_dir else artifacts.data_dir_for(store_url)
    dest.mkdir(parents=True, exist_ok=True)
    if _is_sqlite(store_url):
        src = _sqlite_path(store_url)
        if not src.is_file():
            raise InputError(f"No SQLite store at {src}", f"找不到 SQLite 结果库：{src}", file=src,
                             fix="Give the store with --store sqlite:///PATH.", fix_zh="请用 --store 指定结果库。")
        store_file = dest / "store.sqlite"
        with sqlite3.connect(src) as source, sqlite3.connect(store_file) as target:
            source.backup(target)
        target.close()
        source.close()
    else:
        store_file = dest / "store.pgdump"
        _run(["pg_dump", "-Fc", "--no-owner", "-f", str(store_file), _libpq_url(store_url)], "back up")
    runs_dir = data_dir / artifacts.RUNS
    n_runs = 0
    if runs_dir.is_dir():
        for run in sorted(p for p in runs_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
            shutil.copytree(run, dest / "data" / artifacts.RUNS / run.name, copy_function=shutil.copyfile)
            n_runs += 1
    files = [_entry(dest, p) for p in sorted(dest.rglob("*")) if p.is_file()]
    manifest = {"format": FORMAT, "created": datetime.now(UTC).isoformat(timespec="seconds"),
                "backend": "sqlite" if _is_sqlite(store_url) else "postgresql", "store": store_file.name,
                "code": code_version(), "files": files}
    (dest / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    _make_writable(dest)
    return BackupResult(dest, n_runs, len(files), sum(int(f["size"]) for f in files))


def _entry(root: Path, p: Path) -> dict[str, Any]:
    return {"name": p.relative_to(root).as_posix(), "size": p.stat().st_size, "sha256": file_sha256(p)}


def _make_writable(folder: Path) -> None:
    """Backups are ordinary files (copytree copied the folders' 0555 mode)."""
    for d, _dirs, _files in os.walk(folder):
        os.chmod(d, 0o755)


# ----------------------------------------------------------------------------- restore
def read_manifest(src: Path) -> dict[str, Any]:
    """The manifest of a backup, every file checked against its SHA-256."""
    path = Path(src) / MANIFEST
    if not path.is_file():
        raise InputError(f"Not a Qingshan backup (no {MANIFEST}): {src}", f"不是青山备份（缺少 {MANIFEST}）：{src}",
                         file=src, fix="Give a folder written by `qingshan backup`.",
                         fix_zh="请指定由 `qingshan backup` 生成的目录。")
    manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT:
        raise InputError(f"Unknown backup format {manifest.get('format')!r}", f"未知的备份格式 {manifest.get('format')!r}",
                         file=path, field="format", fix=f"This version restores {FORMAT}.",
                         fix_zh=f"本版本可恢复 {FORMAT} 格式。")
    for f in manifest["files"]:
        p = Path(src) / f["name"]
        if not p.is_file() or p.stat().st_size != f["size"] or file_sha256(p) != f["sha256"]:
            raise InputError(
                f"Backup file damaged or missing: {f['name']} (SHA-256 differs from the manifest)",
                f"备份文件缺失或已损坏：{f['name']}（SHA-256 与清单不符）",
                file=p, fix="Restore from another copy of the backup.", fix_zh="请使用另一份备份恢复。",
            )
    return manifest


def _store_is_empty(url: str) -> bool:
    if _is_sqlite(url):
        path = _sqlite_path(url)
        if not path.exists() or path.stat().st_size == 0:
            return True
    eng = create_engine(url)
    try:
        with eng.connect() as conn:
            if "runs" not in inspect(conn).get_table_names():
                return not inspect(conn).get_table_names()
            return conn.execute(text("SELECT COUNT(*) FROM runs")).scalar() == 0
    finally:
        eng.dispose()


def restore(src: Path, store_url: str, *, data_dir: Path | None = None, force: bool = False) -> BackupResult:
    """Restore the backup ``src`` into the store at ``store_url`` and its data dir (see module docstring)."""
    from qingshan.store.db import migrate

    src = Path(src)
    manifest = read_manifest(src)
    data_dir = Path(data_dir) if data_dir else artifacts.data_dir_for(store_url)
    runs_dir = data_dir / artifacts.RUNS
    occupied = [w for w, busy in ((store_url, not _store_is_empty(store_url)),
                                  (str(runs_dir), runs_dir.is_dir() and any(runs_dir.iterdir()))) if busy]
    if occupied and not force:
        raise InputError(
            f"Restore target is not empty: {', '.join(occupied)}",
            f"恢复目标不是空的：{', '.join(occupied)}",
            fix="Restore into a new store and data dir, or add --force to replace what is there.",
            fix_zh="请恢复到新的结果库和数据目录，或加 --force 覆盖现有内容。",
        )
    backend = "sqlite" if _is_sqlite(store_url) else "postgresql"
    if manifest["backend"] != backend:
        raise InputError(
            f"The backup is of a {manifest['backend']} store; the target is {backend}",
            f"备份来自 {manifest['backend']} 结果库，目标为 {backend}",
            field="store", fix="Restore into a store of the same kind.", fix_zh="请恢复到同类型的结果库。",
        )
    store_file = src / manifest["store"]
    if backend == "sqlite":
        target = _sqlite_path(store_url)
        target.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        with sqlite3.connect(store_file) as source, sqlite3.connect(target) as dest:
            source.backup(dest)
        dest.close()
        source.close()
    else:
        _run(["pg_restore", "--clean", "--if-exists", "--no-owner", "-d", _libpq_url(store_url), str(store_file)],
             "restore")
    if runs_dir.exists():
        artifacts.remove_tree(runs_dir)
    n_runs = 0
    backed = src / "data" / artifacts.RUNS
    if backed.is_dir():
        for run in sorted(p for p in backed.iterdir() if p.is_dir()):
            staging = artifacts.make_tmp(artifacts.runs_root(data_dir))
            shutil.copytree(run, staging, copy_function=shutil.copyfile, dirs_exist_ok=True)
            artifacts.seal(staging, data_dir, run.name)
            n_runs += 1
    migrate(store_url)
    files = manifest["files"]
    return BackupResult(data_dir, n_runs, len(files), sum(int(f["size"]) for f in files))
