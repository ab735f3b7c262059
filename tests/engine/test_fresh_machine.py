"""A fresh machine, a bare container, a damaged cache: the conditions an attack pass found Qingshan failing in
(cold caches, no user entry, no HOME, threads importing at once). Each test is one finding."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from qingshan.engine.derived_cache import DerivedCache


def _run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), **env})


def test_a_derived_manifest_that_is_not_an_object_is_a_miss_not_a_crash(tmp_path: Path) -> None:
    """Found: ``null`` in a derived-layer manifest made every later `qingshan account` die with AttributeError."""
    cache = DerivedCache(tmp_path)
    cache.store("k", np.arange(6.0).reshape(2, 3), "ls")
    assert cache.load("k") is not None
    for text in ("null", "[1, 2]", '"ls"'):
        (tmp_path / "k.json").write_text(text, encoding="utf-8")
        assert cache.load("k") is None
    cache.store("k", np.arange(6.0).reshape(2, 3), "ls")  # recomputed and stored again
    assert json.loads((tmp_path / "k.json").read_text(encoding="utf-8"))["shape"] == [2, 3]


def test_a_user_without_a_name_gets_a_scratch_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    """Found: `docker run --user 12345` (no passwd entry, no USER): soil retention died with getpwuid's KeyError."""
    import getpass

    from qingshan.engine import compute

    def nobody() -> str:
        raise KeyError("getpwuid(): uid not found: 12345")

    monkeypatch.setattr(getpass, "getuser", nobody)
    assert compute.scratch_root().name == f"qingshan-scratch-{os.getuid()}"


def test_no_home_means_no_cache_not_a_crash(tmp_path: Path) -> None:
    """Found: without a usable HOME (and no user entry), platformdirs raised RuntimeError and every command died;
    the cache is optional (docs/config.md)."""
    done = _run("""
        import platformdirs
        def no_home(*a, **k):
            raise RuntimeError("could not determine the home directory for '~/.cache'")
        platformdirs.user_cache_dir = no_home
        from qingshan.core.remembered import cache_folder
        assert cache_folder("units") is None
        from qingshan.core.units import conversion_factor
        assert conversion_factor("万t", "t") == 1e4
        print("ok")
    """, QINGSHAN_CACHE_DIR="")
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_dask_is_never_hidden_while_other_threads_run(tmp_path: Path) -> None:
    """Found: building the unit registry put ``sys.modules['dask'] = None`` for the whole process while pint
    loaded; another thread importing dask meanwhile got ModuleNotFoundError. With other threads running, pint is
    imported as it is (and the web app imports both before serving)."""
    done = _run("""
        import sys, threading
        stop = threading.Event()
        seen = []
        def watch():
            while not stop.is_set():
                if "dask" in sys.modules and sys.modules["dask"] is None:
                    seen.append("hidden")
        t = threading.Thread(target=watch)
        t.start()
        from qingshan.core.units import conversion_factor
        conversion_factor("亿m³", "m3")
        stop.set(); t.join()
        assert not seen, seen
        from qingshan.api.app import create_app
        create_app()
        assert sys.modules.get("dask") is not None and "pint" in sys.modules
        print("ok")
    """, QINGSHAN_CACHE_DIR=str(tmp_path / "cache"), QINGSHAN_STORE_URL=f"sqlite:///{tmp_path / 'x.sqlite'}")
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_a_read_only_install_keeps_compiled_kernels_in_qingshans_cache(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Found: a read-only install (site-packages owned by root) and no writable home: numba raised "cannot cache
    function '_flood_key': no locator available" at import, so every routing command ended in a traceback."""
    from qingshan.kernels import _numba

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setattr(_numba, "_IN_TREE", blocker / "__pycache__")  # cannot be made, even by root
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("QINGSHAN_CACHE_DIR", str(tmp_path / "cache"))
    _numba.choose_cache_dir()
    assert os.environ["NUMBA_CACHE_DIR"] == str(tmp_path / "cache" / "numba")
    monkeypatch.setenv("QINGSHAN_CACHE_DIR", str(blocker))  # no Qingshan cache either: a temporary folder
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    _numba.choose_cache_dir()
    assert Path(os.environ["NUMBA_CACHE_DIR"]).name.startswith("qingshan-numba-")
    monkeypatch.setenv("NUMBA_CACHE_DIR", "/somewhere/chosen")  # the user's choice is kept
    _numba.choose_cache_dir()
    assert os.environ["NUMBA_CACHE_DIR"] == "/somewhere/chosen"
