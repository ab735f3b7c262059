"""Start-up cost is behaviour: what a command imports, and that numba kernels are cached on disk.

Issue 11 (Build 3): ``qingshan compute`` paid 2.4–4 s of fixed start-up because a water-yield run
imported the routing kernels (pyflwdir, numba) it never uses, and pint's import pulled in dask.
These tests check ``sys.modules`` in a fresh interpreter (no timing asserts).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine

ROUTING_ONLY = ("pyflwdir", "numba", "qingshan.kernels.routing", "qingshan.quantities.soil")


def _modules_after(code: str, cwd: Path) -> set[str]:
    """Names in ``sys.modules`` after running ``code`` in a new interpreter (this one's paths)."""
    probe = textwrap.dedent(code) + "\nimport json, sys\nprint('MODULES=' + json.dumps(sorted(sys.modules)))\n"
    out = subprocess.run([sys.executable, "-c", probe], cwd=cwd, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}, timeout=300)
    assert out.returncode == 0, out.stderr
    line = next(x for x in out.stdout.splitlines() if x.startswith("MODULES="))
    return set(json.loads(line.removeprefix("MODULES=")))


def _write(path: Path, value: float, nodata: float = -9999.0) -> str:
    with rasterio.open(path, "w", driver="GTiff", height=3, width=4, count=1, dtype="float32", crs="EPSG:32650",
                       transform=Affine(30.0, 0.0, 500000.0, 0.0, -30.0, 3000000.0), nodata=nodata) as dst:
        dst.write(np.full((3, 4), value, dtype=np.float32), 1)
    return str(path)


def test_cli_help_imports_no_science_stack(tmp_path: Path) -> None:
    mods = _modules_after("""
        from qingshan.cli import app
        try:
            app(["--help"])
        except SystemExit:
            pass
    """, tmp_path)
    assert "qingshan.cli" in mods
    heavy = {"pandas", "pint", "dask", "numba", "pyflwdir", "scipy", "rasterio", "qingshan.engine.compute"}
    assert heavy.isdisjoint(mods), sorted(heavy & mods)


def test_water_yield_compute_imports_no_routing(tmp_path: Path) -> None:
    """The finding: a water-yield ``qingshan compute`` imported pyflwdir and numba (routing it never does)."""
    inputs = {"precip": 1600.0, "pet": 1000.0, "lulc": 1.0, "root_depth": 1000.0, "pawc": 0.1}
    args = ["qingshan", "compute", "water_conservation", "--method", "budyko", "-o", str(tmp_path / "wy.tif")]
    for name, value in inputs.items():
        args += ["--input", f"{name}={_write(tmp_path / f'{name}.tif', value, 255 if name == 'lulc' else -9999.0)}"]
    mods = _modules_after(f"""
        import sys
        from qingshan.cli import main
        sys.argv = {args!r}
        try:
            main()
        except SystemExit as exc:
            assert not exc.code, exc.code
    """, tmp_path)
    assert (tmp_path / "wy.tif").is_file() and (tmp_path / "wy.aet.tif").is_file()  # the run did happen
    assert "qingshan.engine.compute" in mods and "qingshan.quantities.water" in mods
    assert set(ROUTING_ONLY).isdisjoint(mods), sorted(set(ROUTING_ONLY) & mods)
    assert "dask" not in mods  # pint's dask support is not loaded (core.units._import_pint)


def test_unit_registry_is_built_on_first_use_not_at_import(tmp_path: Path) -> None:
    mods = _modules_after("import qingshan.core.units", tmp_path)
    assert "pint" not in mods
    mods = _modules_after("""
        from qingshan.core.units import conversion_factor
        assert conversion_factor("亿m³", "m3") == 1e8
        import dask  # dask still imports normally after pint was loaded without it
    """, tmp_path)
    assert {"pint", "dask"} <= mods


def test_every_numba_kernel_is_cached_on_disk() -> None:
    """``cache=True`` on every numba kernel, and the cache folder numba chose is writable
    (numba falls back from ``NUMBA_CACHE_DIR`` to ``__pycache__`` beside the source, then to the
    user cache dir, whichever is writable)."""
    import importlib
    import pkgutil

    from numba.core.caching import NullCache
    from numba.core.registry import CPUDispatcher

    import qingshan.kernels

    found = []
    for info in pkgutil.iter_modules(qingshan.kernels.__path__, "qingshan.kernels."):
        mod = importlib.import_module(info.name)
        for name, obj in vars(mod).items():
            if isinstance(obj, CPUDispatcher) and obj.__module__ == info.name:
                found.append(f"{info.name}.{name}")
                assert not isinstance(obj._cache, NullCache), f"{info.name}.{name} needs @njit(cache=True)"
                folder = Path(obj._cache._cache_path)
                assert folder.is_dir() and os.access(folder, os.W_OK), folder
    assert "qingshan.kernels.routing._fill_pits_kernel" in found
