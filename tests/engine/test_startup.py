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
import pytest
import rasterio
from affine import Affine

ROUTING_ONLY = ("pyflwdir", "numba", "qingshan.kernels.routing", "qingshan.quantities.soil")


def _modules_after(code: str, cwd: Path, **env: str) -> set[str]:
    """Names in ``sys.modules`` after running ``code`` in a new interpreter (this one's paths; ``env`` added)."""
    probe = textwrap.dedent(code) + "\nimport json, sys\nprint('MODULES=' + json.dumps(sorted(sys.modules)))\n"
    out = subprocess.run([sys.executable, "-c", probe], cwd=cwd, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), **env}, timeout=300)
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


def _water_compute(tmp_path: Path, out: str) -> str:
    inputs = {"precip": 1600.0, "pet": 1000.0, "lulc": 1.0, "root_depth": 1000.0, "pawc": 0.1}
    args = ["qingshan", "compute", "water_conservation", "--method", "budyko", "-o", str(tmp_path / out)]
    for name, value in inputs.items():
        args += ["--input", f"{name}={_write(tmp_path / f'{name}.tif', value, 255 if name == 'lulc' else -9999.0)}"]
    return f"""
        import sys
        from qingshan.cli import main
        sys.argv = {args!r}
        try:
            main()
        except SystemExit as exc:
            assert not exc.code, exc.code
    """


def test_water_yield_compute_imports_no_routing_nor_pandas_nor_pint(tmp_path: Path) -> None:
    """The finding (issue 11.3): a 64² water yield cost 4× the plain rasterio + numpy script, the difference
    being imports the script does not pay — pandas to read two small CSV tables, pint's registry to convert
    a few units. A second run (unit answers remembered) imports neither, nor dask.distributed. Then (issue 11,
    start-up): typer, rich, pydantic and pyproj, ~0.25 s of CPU together, are not imported either (pyproj's
    answers are remembered as pint's)."""
    cache = str(tmp_path / "cache")
    first = _modules_after(_water_compute(tmp_path, "a.tif"), tmp_path, QINGSHAN_CACHE_DIR=cache)
    assert (tmp_path / "a.tif").is_file() and (tmp_path / "a.aet.tif").is_file()  # the run did happen
    assert "qingshan.engine.compute" in first and "qingshan.quantities.water" in first
    # the earlier finding: a water yield imported the routing kernels (pyflwdir, numba) it never uses
    assert set(ROUTING_ONLY).isdisjoint(first), sorted(set(ROUTING_ONLY) & first)
    assert "dask" not in first  # pint's dask support is not loaded (core.units._import_pint)
    assert "pint" in first and "pyproj" in first  # the first run asks pint and pyproj (and remembers their answers)
    # the command line is read without typer (and click's parser), printed without rich; specs are not pydantic
    assert {"typer", "rich", "pydantic", "qingshan.cli._app"}.isdisjoint(first), sorted({"typer", "rich", "pydantic"} & first)
    mods = _modules_after(_water_compute(tmp_path, "b.tif"), tmp_path, QINGSHAN_CACHE_DIR=cache)
    assert (tmp_path / "b.tif").is_file() and (tmp_path / "b.wyield.tif").is_file()
    for name in ("a.tif", "a.aet.tif", "a.wyield.tif"):  # the same files, to the bit
        assert (tmp_path / name).read_bytes() == (tmp_path / name.replace("a.", "b.", 1)).read_bytes()
    heavy = {"pandas", "pint", "pyflwdir", "numba", "distributed", "sqlalchemy", "alembic", "typer", "rich", "pydantic",
             "pyproj"}
    assert heavy.isdisjoint(mods), sorted(heavy & mods)


def test_unit_registry_is_built_on_first_use_not_at_import(tmp_path: Path) -> None:
    cache = str(tmp_path / "cache")
    mods = _modules_after("import qingshan.core.units", tmp_path, QINGSHAN_CACHE_DIR=cache)
    assert "pint" not in mods
    mods = _modules_after("""
        from qingshan.core.units import conversion_factor
        assert conversion_factor("亿m³", "m3") == 1e8
        import dask  # dask still imports normally after pint was loaded without it
    """, tmp_path, QINGSHAN_CACHE_DIR=cache)
    assert {"pint", "dask"} <= mods


def test_remembered_unit_answers_skip_pint_but_wrong_units_are_still_errors(tmp_path: Path) -> None:
    """pint's answers are remembered on disk (no pint import next time); a wrong unit is never remembered:
    converting t to m3, or an unknown unit, is a UnitsError in every process, and it asks pint."""
    cache = str(tmp_path / "cache")
    probe = """
        import pytest
        from qingshan.core.errors import UnitsError
        from qingshan.core.units import check_unit, conversion_factor, is_currency, total_from_density
        from qingshan.valuation.value import value_in_cny
        assert conversion_factor("元/t", "CNY/kg") == 0.001 and conversion_factor("亿m³", "m3") == 1e8
        assert is_currency("万元") and not is_currency("t")
        assert total_from_density(2.0, "t/hm2", 3.0, "km2", "t") == 600.0
        assert value_in_cny(2.45, "亿m³", 6.11, "元/m3") == 2.45 * 6.11 * 1e8
        check_unit("kg/(hm²·a)")
    """
    first = _modules_after(probe, tmp_path, QINGSHAN_CACHE_DIR=cache)
    assert "pint" in first
    again = _modules_after(probe, tmp_path, QINGSHAN_CACHE_DIR=cache)
    assert "pint" not in again  # every answer above came from the file
    wrong = _modules_after(probe + """
        for bad in (lambda: conversion_factor("t", "m3"), lambda: check_unit("furlongs per fortnight2x"),
                    lambda: value_in_cny(1.0, "t", 5.0, "CNY/m3"), lambda: total_from_density(1.0, "t", 1.0, "km2", "t")):
            with pytest.raises(UnitsError):
                bad()
    """, tmp_path, QINGSHAN_CACHE_DIR=cache)
    assert "pint" in wrong  # the wrong ones were checked by pint
    again = _modules_after(probe + """
        with pytest.raises(UnitsError):
            conversion_factor("t", "m3")  # still an error: nothing wrong was remembered
    """, tmp_path, QINGSHAN_CACHE_DIR=cache)
    assert "pint" in again


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


def test_main_builds_the_command_asked_for_with_the_full_apps_behaviour(tmp_path: Path) -> None:
    """``main`` builds only the named top-level command (typer builds all 24 otherwise): its help, a sub-command
    group and an unknown command behave as with the full app."""
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", "from qingshan.cli import main; main()", *args], cwd=tmp_path,
                              capture_output=True, text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path),
                                                                   "COLUMNS": "200"}, timeout=120)

    out = run("compute", "--help")
    assert out.returncode == 0 and "--dtype" in out.stdout and "--landcover" in out.stdout
    out = run("compute", "water_conservation")
    assert out.returncode == 2 and "Missing option '-o'" in out.stderr
    out = run("nosuch")
    assert out.returncode == 2 and "No such command 'nosuch'" in out.stderr
    out = run("indicators", "show", "water_conservation")
    assert out.returncode == 0 and "water_conservation" in out.stdout


def test_quick_compute_path_reads_the_command_line_as_typer_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``main`` runs ``qingshan compute`` without typer when it can read the command line itself: its options are
    the typer command's, and it passes ``run_compute`` what typer passes; anything else is left to typer."""
    import typer.main
    from typer.testing import CliRunner

    import qingshan.cli.compute as typer_compute
    from qingshan.cli import app
    from qingshan.cli.compute_run import OPTIONS, parse_compute_args

    click_cmd = typer.main.get_command(app).commands["compute"]  # type: ignore[attr-defined]
    declared = {flag: (p.name, "many" if p.multiple else "one") for p in click_cmd.params if p.opts[0].startswith("-")
                for flag in (*p.opts, *p.secondary_opts)}
    assert {f: (n.rstrip("_"), h) for f, (n, h) in OPTIONS.items()} == {f: (n.rstrip("_"), h) for f, (n, h) in declared.items()}

    seen: list[dict] = []
    monkeypatch.setattr(typer_compute, "run_compute", lambda *a: seen.append(dict(zip(
        ("indicator_id", "output", "input_", "param", "option", "landcover", "params", "method", "plausibility",
         "layer", "dtype"), a, strict=True))))
    lines = [
        ["water_conservation", "-o", "o.tif"],
        ["-o", "o.tif", "soil_retention", "-i", "dem=d.tif", "--input=lulc=l.tif", "-ir=r.tif", "--option",
         "flow_algorithm=MFD", "--param", "zhang_z=5", "--plausibility", "crs=off", "--layer", "ls", "--layer", "usle"],
        ["water_conservation", "--method", "budyko", "--landcover", "lc.csv", "--params=p.csv", "--dtype", "float32",
         "--option", 'budyko_vegetated_ecosystems=["forest"]', "--output=out/q.tif", "-i", "precip=a b.tif"],
    ]
    for args in lines:
        result = CliRunner().invoke(app, ["compute", *args])
        assert result.exit_code == 0, result.output
        assert parse_compute_args(args) == seen.pop()
    for args in (["water_conservation"], ["water_conservation", "-o", "o.tif", "--help"], ["-o", "o.tif"],
                 ["a", "b", "-o", "o.tif"], ["a", "-o", "o.tif", "--nosuch", "x"], ["a", "-o", "o.tif", "-o", "p.tif"],
                 ["a", "-o", "o.tif", "--", "-x"], ["a", "-o", ""], ["a", "-o", "o.tif", "--method"],
                 ["a", "-o", "o.tif", "--input", "-x=y"]):
        assert parse_compute_args(args) is None, args


def test_quick_compute_path_errors_are_bilingual_without_traceback(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", "from qingshan.cli import main; main()", "compute", *args], cwd=tmp_path,
                              capture_output=True, text=True, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
                              timeout=120)

    out = run("water_conservation", "-o", "o.tif", "--input", "precip")
    assert out.returncode == 2 and out.stderr.startswith("Error 错误: Input 'precip' is not KEY=VALUE")
    assert "格式应为 KEY=VALUE" in out.stderr and "Traceback" not in out.stderr
    out = run("water_conservation", "-o", "o.tif", "-i", f"precip={tmp_path / 'none.tif'}", "--dtype", "float16")
    assert out.returncode == 2 and "float64 or float32" in out.stderr and "像元类型" in out.stderr
    out = run("nosuch", "-o", "o.tif")
    assert out.returncode == 2 and "Unknown indicator 'nosuch'" in out.stderr and "未知指标" in out.stderr
    assert out.stdout == "" and "Traceback" not in out.stderr


def test_remembered_crs_answers_are_pyprojs_and_skip_pyproj_next_time(tmp_path: Path) -> None:
    """The CRS facts a grid needs (normal WKT, equality, units, EPSG code, area of use) are pyproj's, remembered
    on disk: a second process asks the file, not pyproj; a text pyproj rejects is an error every time."""
    cache = str(tmp_path / "cache")
    probe = """
        import pyproj  # noqa: F401  (the first process: compare with pyproj itself)
        from pyproj import CRS
        from qingshan.core.crs import crs_facts, normal_wkt, same_crs
        wgs = CRS.from_epsg(4326).to_wkt("WKT1_GDAL")
        for text in ("EPSG:32650", wgs):
            crs, facts = CRS.from_user_input(text), crs_facts(text)
            assert normal_wkt(text) == crs.to_wkt() and facts.epsg == crs.to_epsg() and facts.name == crs.name
            assert facts.is_geographic == crs.is_geographic
            assert facts.unit_factor == crs.axis_info[0].unit_conversion_factor
            assert facts.ellipsoid == (crs.ellipsoid.semi_major_metre, crs.ellipsoid.semi_minor_metre)
            aou = crs.area_of_use or CRS.from_epsg(crs.to_epsg()).area_of_use  # WKT1 of 4326: its EPSG code's
            assert (facts.area_of_use.west, facts.area_of_use.north) == (aou.west, aou.north)
        assert same_crs(normal_wkt(wgs), CRS.from_epsg(4326).to_wkt()) and not same_crs(normal_wkt("EPSG:32650"), wgs)
    """
    grid = """
        from affine import Affine
        from qingshan.core.crs import crs_facts
        from qingshan.core.grid import Grid
        g = Grid.from_crs("EPSG:32650", Affine(30.0, 0, 500000.0, 0, -30.0, 3000000.0), 2, 3)
        h = Grid.from_crs(g.crs_wkt, g.transform, 2, 3)
        assert g.same_as(h) and float(g.cell_area()[0, 0]) == 900.0 and crs_facts(g.crs_wkt).epsg == 32650
        from qingshan.io.rasters import crs_for_write
        assert crs_for_write(g).to_epsg() == 32650
    """
    first = _modules_after(probe + grid, tmp_path, QINGSHAN_CACHE_DIR=cache)
    assert "pyproj" in first
    again = _modules_after(grid, tmp_path, QINGSHAN_CACHE_DIR=cache)  # the same questions: answered by the file
    assert "pyproj" not in again
    wrong = _modules_after("""
        import pytest
        from qingshan.core.crs import crs_facts
        for _ in range(2):
            with pytest.raises(Exception, match="Invalid projection|CRS"):
                crs_facts("EPSG:99999999")
    """, tmp_path, QINGSHAN_CACHE_DIR=cache)
    assert "pyproj" in wrong


def test_compute_reads_a_small_raster_once_for_plausibility_and_blocks(tmp_path: Path) -> None:
    """Inside ``sharing_whole_reads`` (``qingshan compute``), the plausibility check's whole read of a raster is
    the array the blocks get for the whole window: once, for the unchanged file; outside, each reads the file."""
    import os as _os

    from qingshan.core.window import Window
    from qingshan.engine.blocks import InputSource, read_window
    from qingshan.io.plausibility import check_raster
    from qingshan.io.rasters import grid_of, sharing_whole_reads

    path = tmp_path / "p.tif"
    with rasterio.open(path, "w", driver="GTiff", height=3, width=4, count=1, dtype="float32", crs="EPSG:32650",
                       transform=Affine(30.0, 0.0, 500000.0, 0.0, -30.0, 3000000.0), nodata=-9999.0) as dst:
        dst.write(np.array([[1500, 1600, -9999, 1700]] * 3, dtype=np.float32), 1)
    grid, src, whole = grid_of(path), InputSource("precip", path), Window(0, 0, 3, 4)
    fresh = read_window(src, grid, whole)
    assert np.isnan(fresh[0, 2]) and fresh.dtype == np.float64
    from qingshan.io import rasters

    with sharing_whole_reads():
        check_raster(path, "precip")
        (offered,) = rasters._WHOLE_READS.values()  # type: ignore[union-attr]
        first, second = read_window(src, grid, whole), read_window(src, grid, whole)
        assert first is offered and not rasters._WHOLE_READS
        assert first is not second and np.array_equal(first, fresh, equal_nan=True)
        assert np.array_equal(second, fresh, equal_nan=True)
        check_raster(path, "precip")
        assert read_window(src, grid, Window(0, 0, 2, 4)).shape == (2, 4) and rasters._WHOLE_READS  # not whole
        _os.utime(path, ns=(1, 1))  # the file changed since the check: read again
        again = read_window(src, grid, whole)
        assert again is not offered and np.array_equal(again, fresh, equal_nan=True)
    assert rasters._WHOLE_READS is None  # nothing kept outside
    check_raster(path, "precip")
    assert rasters._WHOLE_READS is None


def test_gdal_block_cache_is_bounded_unless_the_environment_says_otherwise() -> None:
    """GDAL's default cache (5 % of the RAM) held every written layer's blocks (2 GB at 10 000²): Qingshan's
    raster layer sets 256 MB unless GDAL_CACHEMAX is given, and GDAL uses it."""
    import os
    import subprocess
    import sys

    code = ("import os, rasterio, qingshan.io.rasters\n"
            "from rasterio.env import get_gdal_config\n"
            "print(os.environ['GDAL_CACHEMAX'], get_gdal_config('GDAL_CACHEMAX'))")
    env = {k: v for k, v in os.environ.items() if k != "GDAL_CACHEMAX"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "256" and int(out[1]) == 256 * 1024 * 1024
    env["GDAL_CACHEMAX"] = "64"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "64"


def test_routing_kernels_load_numba_without_scipy_linalg_nor_cffi(tmp_path: Path) -> None:
    """numba's probes imported all of scipy.linalg and built cffi's C parser (0.18 s of every soil-retention
    command's start-up); the routing kernels use neither linear algebra nor cffi. The kernels still run, and both
    import normally after."""
    mods = _modules_after("""
        import numpy as np
        from qingshan.kernels.routing import fill_pits_invest
        z = np.array([[3.0, 3, 3], [3, 1, 3], [3, 3, 3]])
        assert fill_pits_invest(z)[1, 1] == 3.0
    """, tmp_path)
    assert "numba" in mods and "scipy.linalg" not in mods, sorted(m for m in mods if m.startswith("scipy"))
    assert "pycparser" not in mods and "cffi" not in mods
    after = _modules_after("""
        import qingshan.kernels.tiled_routing
        import scipy.linalg.cython_blas
        from scipy.linalg import solve
        assert solve([[2.0]], [4.0])[0] == 2.0
        import cffi
        assert cffi.FFI().sizeof("int") == 4
    """, tmp_path)
    assert "scipy.linalg.cython_blas" in after and "pycparser" in after


def test_soil_retention_compute_imports_neither_pyproj_nor_numbas_probes_the_second_time(tmp_path: Path) -> None:
    """Start-up of a routing command (issue 11): the cell size came from a pyproj CRS (0.05 s to import) although
    the CRS facts are remembered; numba's probes loaded scipy.linalg and cffi's parser. A second run imports none."""
    def run(out: str) -> set[str]:
        ins = {"dem": _write(tmp_path / "dem.tif", 100.0), "lulc": _write(tmp_path / "lulc.tif", 1.0, 255),
               "rain_erosivity": _write(tmp_path / "r.tif", 3000.0), "soil_erodibility": _write(tmp_path / "k.tif", 0.03),
               "ndvi": _write(tmp_path / "ndvi.tif", 0.6)}
        args = ["qingshan", "compute", "soil_retention", "--option", "ls_formula=invest", "-o", str(tmp_path / out)]
        for name, path in ins.items():
            args += ["--input", f"{name}={path}"]
        return _modules_after(f"""
            import sys
            from qingshan.cli import main
            sys.argv = {args!r}
            try:
                main()
            except SystemExit as exc:
                assert not exc.code, exc.code
        """, tmp_path, QINGSHAN_CACHE_DIR=str(tmp_path / "cache"))

    run("a.tif")
    mods = run("b.tif")
    assert (tmp_path / "b.soil_retained.tif").is_file() and "numba" in mods
    assert {"pyproj", "scipy.linalg", "pycparser"}.isdisjoint(mods), sorted({"pyproj", "scipy.linalg", "pycparser"} & mods)
    assert (tmp_path / "a.ls.tif").read_bytes() == (tmp_path / "b.ls.tif").read_bytes()
