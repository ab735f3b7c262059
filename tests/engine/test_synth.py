"""``qingshan synth``: seeded, plausible synthetic inputs whose config runs through ``account``."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio

from qingshan.core.errors import ConfigError
from qingshan.io.plausibility import check_inputs
from qingshan.synth import CLASS_CODES, SynthSpec, parse_shares, slope_degrees, write_synth

ROOT = Path(__file__).resolve().parents[2]


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    spec = SynthSpec(size=32, seed=11, counties=2, years=(2018, 2019))
    write_synth(tmp_path / "a", spec)
    write_synth(tmp_path / "b", spec)
    write_synth(tmp_path / "c", SynthSpec(size=32, seed=12, counties=2, years=(2018, 2019)))
    a, b, c = (_files(tmp_path / x) for x in "abc")
    assert a == b
    assert "precip_2018.tif" in a and "precip_2019.tif" in a and "counties.geojson" in a
    assert a["dem.tif"] != c["dem.tif"] and a["lulc.tif"] != c["lulc.tif"]


def test_class_shares_are_met_and_clustered(tmp_path: Path) -> None:
    shares = parse_shares("forest=0.4,cropland=0.3,water=0.1,urban=0.1,grassland=0.1")
    write_synth(tmp_path, SynthSpec(size=96, seed=3, shares=shares))
    lulc = rasterio.open(tmp_path / "lulc.tif").read(1)
    for name, share in shares.items():
        assert abs((lulc == CLASS_CODES[name]).mean() - share) < 1e-3, name
    assert not np.isin(lulc, [CLASS_CODES[c] for c in CLASS_CODES if c not in shares]).any()
    # clustered, not salt-and-pepper: most cropland cells have a cropland neighbour to the east or south
    crop = lulc == CLASS_CODES["cropland"]
    same = (crop[:, :-1] & crop[:, 1:]).sum() + (crop[:-1, :] & crop[1:, :]).sum()
    assert same / crop.sum() > 1.2  # random placement at 30 % would give about 0.6


def test_outputs_pass_the_plausibility_checks_with_realistic_relief(tmp_path: Path) -> None:
    write_synth(tmp_path, SynthSpec(size=64, seed=5, resolution=90.0))
    names = {"dem": "dem", "lulc": "lulc", "ndvi": "ndvi", "soil_erodibility": "soil_erodibility",
             "precip": "precip_2019", "aet": "aet_2019", "pet": "pet_2019", "air_temperature": "air_temperature_2019",
             "rain_erosivity": "rain_erosivity_2019"}
    check_inputs({k: tmp_path / f"{v}.tif" for k, v in names.items()})  # raises on a unit mistake
    dem = rasterio.open(tmp_path / "dem.tif").read(1)
    slope = slope_degrees(dem, 90.0)
    assert dem.min() > 0 and dem.max() < 3000  # metres
    assert 3 < slope.mean() < 35 and np.percentile(slope, 99) < 60
    precip, aet = (rasterio.open(tmp_path / f"{n}_2019.tif").read(1) for n in ("precip", "aet"))
    assert (aet < precip).all() and 800 < precip.mean() < 2500


def test_bad_shares_are_a_bilingual_error() -> None:
    with pytest.raises(ConfigError) as e:
        parse_shares("forest=0.7,cropland=0.2")
    assert "sum" in e.value.en and "合计" in e.value.zh
    with pytest.raises(ConfigError) as e:
        parse_shares("jungle=1")
    assert "jungle" in e.value.en


def test_the_synth_config_runs_through_account(synth_run) -> None:  # type: ignore[no-untyped-def]
    cfg_path, outcome, _ = synth_run
    assert cfg_path.name == "config.toml"
    res = outcome.results
    assert {"water_conservation", "soil_retention", "carbon_sequestration", "agricultural_products",
            "water_purification", "recreation"} <= set(res["indicator"])
    assert res["value"].sum() > 0 and outcome.provenance["qc"]["not_computed"] == []


def test_gen_inputs_keeps_the_benchmark_stream() -> None:
    """validation/gen_inputs.py draws its fields from qingshan.synth: seed 42 still gives the invest-bench DEM."""
    sys.path.insert(0, str(ROOT / "validation"))
    try:
        from gen_inputs import synthetic
    finally:
        sys.path.pop(0)
    layers = synthetic(64, 42)
    assert hashlib.sha256(layers["dem"].tobytes()).hexdigest() == DEM_64_SEED_42
    assert hashlib.sha256(layers["lulc"].tobytes()).hexdigest() == LULC_64_SEED_42


def test_cli_synth(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from qingshan.cli import app

    r = CliRunner().invoke(app, ["synth", "--size", "24", "--out", str(tmp_path / "s"), "--counties", "2"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "s" / "config.toml").is_file()
    r = CliRunner().invoke(app, ["synth", "--size", "8", "--out", str(tmp_path / "t")])
    assert r.exit_code == 2 and "--size" in r.output
# SHA-256 of the arrays the original validation/gen_inputs.py (before it used qingshan.synth) wrote for --size 64
DEM_64_SEED_42 = "da2a5da190bbf6aae661050ab0857cdfbbd6c3896e2f5a12b430880017e10139"
LULC_64_SEED_42 = "9ed19c463b791439403c3f05b1c6193924c8450a852d4fba9811632bf4eb86a6"


# ----------------------------------------------------------------------------- large grids (the lean path)
def test_refine_rows_is_bilinear_and_aligned() -> None:
    from qingshan.synth import nearest_rows, refine_rows

    coarse = np.arange(16, dtype="float64").reshape(4, 4)  # a plane: 4 per row, 1 per column
    fine = refine_rows(coarse, 0, 12, 12, 3)
    x = np.clip((np.arange(12) + 0.5) / 3 - 0.5, 0, 3)
    assert np.allclose(fine, 4 * x[:, None] + x[None, :], atol=1e-12)  # a plane is reproduced exactly
    assert np.array_equal(refine_rows(coarse, 5, 9, 12, 3), fine[5:9])  # strips agree with the whole
    near = nearest_rows(coarse, 0, 12, 12, 3)
    assert np.array_equal(near[::3, ::3], coarse) and np.array_equal(near[2, 2], coarse[0, 0])


def test_lean_path_bytes_shares_plausibility_and_no_seams(tmp_path: Path) -> None:
    """A grid above ``lean_above`` is generated coarse and refined strip by strip: deterministic, the shares
    met up to the refinement, plausible, and strips join without a step at their boundaries."""
    shares = parse_shares("forest=0.5,cropland=0.3,water=0.1,urban=0.1")
    spec = SynthSpec(size=90, seed=4, counties=3, shares=shares)
    write_synth(tmp_path / "a", spec, lean_above=32, strip_rows=16)
    write_synth(tmp_path / "b", spec, lean_above=32, strip_rows=16)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    a = tmp_path / "a"
    lulc = rasterio.open(a / "lulc.tif").read(1)
    assert lulc.shape == (90, 90)
    for name, share in shares.items():
        assert abs((lulc == CLASS_CODES[name]).mean() - share) < 0.03, name
    names = {"dem": "dem", "lulc": "lulc", "ndvi": "ndvi", "soil_erodibility": "soil_erodibility",
             "precip": "precip_2019", "aet": "aet_2019", "pet": "pet_2019", "air_temperature": "air_temperature_2019",
             "rain_erosivity": "rain_erosivity_2019"}
    check_inputs({k: a / f"{v}.tif" for k, v in names.items()})
    precip, aet = (rasterio.open(a / f"{n}_2019.tif").read(1) for n in ("precip", "aet"))
    assert (aet < precip).all()
    dem = rasterio.open(a / "dem.tif").read(1).astype("float64")
    step = np.abs(np.diff(dem, axis=0))  # row to row
    at_seams = step[15::16].mean()  # between rows 15|16, 31|32, … (strip boundaries)
    assert at_seams < 2.0 * step.mean()
    assert (a / "config.toml").is_file() and "99" in (a / "counties.geojson").read_text()
