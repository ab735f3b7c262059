"""Immutable run artifacts: ``<data dir>/runs/<run id>/``, written once, read-only after success.

Every file a run produces (per-cell COGs, XLSX, CSV, GPKG, provenance, and the copies of the
land-cover inputs parcels need) is written into a temporary folder inside the data dir, then
*sealed*: its SHA-256s are recorded, the files made read-only (0444, folders 0555) and the folder
renamed to ``runs/<run id>`` (an atomic rename on one file system). The store keeps the path
relative to the data dir, so a copy of the data dir (``qingshan backup``/``restore``) works
anywhere. Readers — parcel valuation, downloads, reports — find a run's files with
:func:`artifact_dir` and :func:`artifact_file` only, never through the config's output folder,
which a later run may overwrite.

Where the data dir is (:func:`data_dir_for`): an explicit value (``[run] data_dir``, a CLI option)
wins; else the environment variable ``QINGSHAN_DATA_DIR``; else, for an SQLite store, the folder
``qingshan-data`` beside the SQLite file. A PostgreSQL store has no such place: the data dir must
be given.

Temporary folders are named ``<stem>.tmp-<random>.<pid>@<host>``, so that a later start can tell
whose they are: one of a dead process of this host is removed (:func:`clean_tmp`).
"""

from __future__ import annotations

import fcntl
import os
import re
import secrets
import shutil
import socket
import stat
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from qingshan.core.errors import ArtifactIntegrityError, ConfigError, InputError
from qingshan.core.params import file_sha256

__all__ = [
    "DATA_DIR_ENV",
    "NoSuchArtifactError",
    "artifact_dir",
    "artifact_file",
    "check_artifact",
    "check_year_files",
    "clean_tmp",
    "data_dir_for",
    "export_copy",
    "find_data_dir",
    "holder",
    "make_tmp",
    "pid_alive",
    "remove_tree",
    "runs_root",
    "seal",
]

DATA_DIR_ENV = "QINGSHAN_DATA_DIR"
DATA_DIR_NAME = "qingshan-data"
RUNS = "runs"
TMP_RE = re.compile(r"\.tmp-[0-9a-f]{8}\.(\d+)@(.+)$")
STALE_OTHER_HOST_SECONDS = 24 * 3600
"""A temporary folder of another host is removed only when this old (its process cannot be checked)."""

Manifest = list[dict[str, Any]]


# ----------------------------------------------------------------------------- where
def data_dir_for(store_url: str, explicit: str | Path | None = None) -> Path:
    """The data dir of a store: ``explicit``, else ``$QINGSHAN_DATA_DIR``, else beside an SQLite file."""
    if explicit:
        return Path(explicit).resolve()
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env).resolve()
    if store_url.startswith("sqlite:///") and store_url != "sqlite:///:memory:":
        return Path(store_url.removeprefix("sqlite:///")).resolve().parent / DATA_DIR_NAME
    raise ConfigError(
        "A PostgreSQL (or in-memory) store needs a data dir for the run artifacts",
        "PostgreSQL（或内存）结果库需要指定运行成果文件目录 data dir",
        field="run.data_dir",
        fix=f"Set [run] data_dir = \"/srv/qingshan-data\" in the config, or the environment variable {DATA_DIR_ENV}.",
        fix_zh=f"请在配置 [run] 中设置 data_dir，或设置环境变量 {DATA_DIR_ENV}。",
    )


def find_data_dir(store_url: str) -> Path | None:
    """:func:`data_dir_for` without an explicit value; ``None`` where none is known (PostgreSQL without the variable)."""
    try:
        return data_dir_for(store_url)
    except ConfigError:
        return None


def runs_root(data_dir: Path) -> Path:
    """``<data dir>/runs`` (created)."""
    root = Path(data_dir) / RUNS
    root.mkdir(parents=True, exist_ok=True)
    return root


# ----------------------------------------------------------------------------- temporary folders
def holder() -> str:
    """``host:pid`` of this process (the lease holder of the runs it records)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def make_tmp(parent: Path, stem: str = "") -> Path:
    """A new folder ``<parent>/<stem>.tmp-<random>.<pid>@<host>``."""
    parent.mkdir(parents=True, exist_ok=True)
    path = parent / f"{stem}.tmp-{secrets.token_hex(4)}.{os.getpid()}@{socket.gethostname()}"
    path.mkdir()
    return path


def pid_alive(pid: int) -> bool:
    """Whether a process of this host with ``pid`` exists (a zombie counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _tmp_is_stale(path: Path, live_holders: Iterable[str], now: float) -> bool:
    m = TMP_RE.search(path.name)
    if m is None:
        return False
    pid, host = int(m.group(1)), m.group(2)
    if host == socket.gethostname():
        return not pid_alive(pid)
    if f"{host}:{pid}" in set(live_holders):
        return False
    return now - path.lstat().st_mtime > STALE_OTHER_HOST_SECONDS


def clean_tmp(folder: Path, live_holders: Iterable[str] = (), *, stem: str = "") -> list[Path]:
    """Remove the temporary folders in ``folder`` whose process is gone (only ``<stem>.tmp-*`` ones when
    ``stem`` is given: beside an export folder, other files are not ours)."""
    if not folder.is_dir():
        return []
    holders = list(live_holders)
    now = time.time()
    removed = []
    for child in folder.iterdir():
        ours = child.name.startswith(f"{stem}.tmp-") if stem else True
        if ours and _tmp_is_stale(child, holders, now):
            remove_tree(child)
            removed.append(child)
    return removed


def remove_tree(path: Path) -> None:
    """Delete a folder, read-only (sealed) ones included."""
    if not path.exists():
        return
    for d, _dirs, _files in os.walk(path):
        os.chmod(d, stat.S_IRWXU)
    shutil.rmtree(path, ignore_errors=True)


# ----------------------------------------------------------------------------- sealing
def _manifest(folder: Path, known: Mapping[str, Mapping[str, Any]] | None = None) -> Manifest:
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    out = []
    for p in files:
        name, size = p.relative_to(folder).as_posix(), p.stat().st_size
        k = (known or {}).get(name)
        sha = str(k["sha256"]) if k is not None and k.get("size") == size else file_sha256(p)
        out.append({"name": name, "size": size, "sha256": sha})
    return out


def seal(staging: Path, data_dir: Path, run_id: str, *,
         known: Mapping[str, Mapping[str, Any]] | None = None) -> tuple[str, Manifest]:
    """Make ``staging`` the run's read-only artifact folder; its path relative to the data dir and its manifest.

    The manifest lists every file (name relative to the run folder, size in bytes, SHA-256).
    Files become 0444 and folders 0555; the folder is renamed to ``runs/<run id>`` (atomic).
    ``known``: manifest entries of files hard-linked from another sealed run (a revalued run's rasters), whose
    SHA-256 is reused rather than read again.
    """
    final = runs_root(data_dir) / run_id
    if final.exists():
        raise FileExistsError(f"run artifacts already exist: {final}")  # a run id is never reused
    manifest = _manifest(staging, known)
    for d, dirs, files in os.walk(staging, topdown=False):
        for f in files:
            os.chmod(Path(d) / f, 0o444)
        for sub in dirs:
            os.chmod(Path(d) / sub, 0o555)
    staging.rename(final)
    os.chmod(final, 0o555)
    return final.relative_to(Path(data_dir)).as_posix(), manifest


def export_copy(run_folder: Path, output: Path, manifest: Sequence[Mapping[str, Any]]) -> list[Path]:
    """Copy a sealed run's files to ``output`` (the user's export folder, writable), replacing it atomically.

    Replacements of one folder are serialised by a lock file beside it (``.<name>.lock``): two runs exporting into
    the same folder at once (two ``qingshan account -o DIR``, two workers) made one of them fail at its very end with
    a bare ``FileNotFoundError``/``OSError`` from the other's rename — and its finished run marked failed. The
    last to finish leaves its copy."""
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = make_tmp(output.parent, stem=f".{output.name}")
    try:
        for entry in manifest:
            dest = tmp / entry["name"]
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(run_folder / entry["name"], dest)
        with open(output.parent / f".{output.name}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed
            _replace_dir(tmp, output)
    finally:
        remove_tree(tmp)  # left only on an error
    return [output / e["name"] for e in manifest]


def _replace_dir(tmp: Path, final: Path) -> None:
    """Move a complete folder to ``final``, replacing an older one (as ``engine.run.replace_dir``)."""
    old = final.with_name(final.name + ".old")
    remove_tree(old)
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    remove_tree(old)


# ----------------------------------------------------------------------------- reading
def artifact_dir(run: Any, data_dir: Path | None) -> Path:
    """The folder of a run's own artifacts — the one way readers find them.

    ``run``: a :class:`~qingshan.store.models.Run`. Runs recorded before artifacts existed
    (no ``artifacts_dir``) fall back to their recorded export folder.
    """
    rel = getattr(run, "artifacts_dir", None)
    if rel:
        if data_dir is None:
            raise _missing(run.id, f"<data dir>/{rel}")
        path = Path(data_dir) / rel
    elif run.output_dir:
        path = Path(run.output_dir)
    else:
        raise _missing(run.id, "(none recorded)")
    if not path.is_dir():
        raise _missing(run.id, path.name)  # a name, never a server path (errors reach the public)
    return path


def _missing(run_id: str, where: str) -> InputError:
    return InputError(
        f"The artifacts of run '{run_id}' are missing ({where})",
        f"核算记录 '{run_id}' 的成果文件缺失（{where}）",
        field="run_id",
        fix="Point the service at the run's data dir (QINGSHAN_DATA_DIR), restore it with `qingshan restore`, "
            "or rerun the accounting.",
        fix_zh="请将服务指向该核算的数据目录（QINGSHAN_DATA_DIR），用 `qingshan restore` 恢复，或重新运行核算。",
    )


class NoSuchArtifactError(InputError, LookupError):
    """A run has no artifact of that name: "not found" (HTTP 404), not a malformed request (422)."""

    code = "not_found"


def artifact_file(run: Any, data_dir: Path | None, name: str, *,
                  verify: bool = False) -> tuple[Path, Mapping[str, Any]]:
    """One artifact of a run by its manifest name: its path and its manifest entry (size, SHA-256).
    ``verify``: the file is checked against its entry first (:func:`check_artifact`), as before serving it."""
    entries = {e["name"]: e for e in (getattr(run, "artifacts", None) or [])}
    if name not in entries:
        raise NoSuchArtifactError(
            f"Run '{run.id}' has no artifact '{name}'",
            f"核算记录 '{run.id}' 没有成果文件 '{name}'",
            field="name",
            fix="List the run's artifacts with GET /api/runs/{run_id}/artifacts.",
            fix_zh="请用 GET /api/runs/{run_id}/artifacts 查看成果文件列表。",
        )
    folder = artifact_dir(run, data_dir)
    path = folder / name
    if not path.is_file():
        raise _missing(run.id, name)
    if verify:
        check_artifact(run.id, folder, name, entries[name])
    return path, entries[name]


def check_year_files(run: Any, folder: Path, year: int) -> None:
    """The sealed files a per-cell reader of ``year`` opens (parcel valuation): every ``rasters/*.<year>.tif``,
    ``inputs/lulc.<year>.tif`` and ``inputs/landcover.csv``, each checked by :func:`check_artifact`; a raster of
    that year the manifest does not list (added to the folder later, and found by the reader's glob) is refused too.
    Found: per-cell rasters of a published run rewritten in the data dir changed its parcel values (here x8) with
    no error. Runs recorded before the manifest existed have nothing to check against."""
    entries = {e["name"]: e for e in (getattr(run, "artifacts", None) or [])}
    if not getattr(run, "artifacts_dir", None) or not entries:
        return
    names = [f"inputs/lulc.{year}.tif", "inputs/landcover.csv"]
    names += [f"rasters/{p.name}" for p in sorted((folder / "rasters").glob(f"*.{year}.tif"))]
    for name in names:
        if name in entries or name.startswith("rasters/"):  # a raster not listed: refused
            check_artifact(run.id, folder, name, entries.get(name))


_VERIFIED: dict[tuple[str, int, int, int, int, int], str] = {}
"""(path, device, inode, size, mtime, ctime) → SHA-256 of files already read: a file unchanged since (any write,
chmod, rename onto it or link change moves its ctime) is not read again at every download. At most
:data:`VERIFIED_MAX` entries (then emptied: the files are read again once)."""
VERIFIED_MAX = 100_000


def check_artifact(run_id: str, folder: Path, name: str, entry: Mapping[str, Any] | None) -> None:
    """Refuse (:class:`ArtifactIntegrityError`) a sealed file that is not what was sealed: a symbolic link (its
    target may be anything, writable by anyone), a path leaving the run folder, or bytes whose size or SHA-256
    differ from the manifest entry (``None``: a file the run was not sealed with). The catalogue (``platform.catalog``) and revaluation already checked this;
    downloads and on-demand exports did not (found: a file edited in the data dir was served with the recorded
    SHA-256 in ``X-Content-SHA256``, and a revalued run's workbook was built from an edited ``results.csv``)."""
    path = folder / name
    try:
        linked = path.is_symlink() or any((folder / q).is_symlink() for q in PurePosixPath(name).parents
                                          if q != PurePosixPath("."))
        inside = path.resolve().is_relative_to(folder.resolve())
        st = path.stat()
    except OSError:
        raise _missing(run_id, name) from None
    key = (str(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    if entry is None:
        why, why_zh = "it is not one of the files sealed with the run", "该文件不属于封存时的成果文件"
    elif linked or not inside:
        why, why_zh = "it is a symbolic link", "该文件是符号链接"
    elif st.st_size != entry.get("size"):
        why, why_zh = f"its size is {st.st_size} bytes, {entry.get('size')} were sealed", \
            f"其大小为 {st.st_size} 字节，封存时为 {entry.get('size')} 字节"
    elif _VERIFIED.get(key) == entry.get("sha256") or file_sha256(path) == entry.get("sha256"):
        if len(_VERIFIED) >= VERIFIED_MAX:
            _VERIFIED.clear()
        _VERIFIED[key] = str(entry.get("sha256"))
        return
    else:
        why, why_zh = "its SHA-256 differs from the one sealed", "其 SHA-256 与封存时记录的不同"
    raise ArtifactIntegrityError(
        f"The file '{name}' of run '{run_id}' was changed after the run was sealed ({why}); it is not served",
        f"核算记录 '{run_id}' 的成果文件 '{name}' 在封存后被改动（{why_zh}），已拒绝提供",
        field="name",
        fix="Restore the run's files from a backup (`qingshan restore`), or rerun the accounting; tell the "
            "administrator: a sealed file is read-only and should never change.",
        fix_zh="请从备份恢复该核算的成果文件（`qingshan restore`），或重新运行核算；并通知管理员：封存的文件为只读，不应被改动。",
    )
