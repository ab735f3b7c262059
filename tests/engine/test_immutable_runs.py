"""Immutable runs (issue 7, build 1-2): a later run changes nothing of an earlier one; the content
hash covers content only; artifacts are served with their SHA-256; a backup restored elsewhere works.

Run A (the Jiangxi example, ``jiangxi-db36-2021``) is accounted and published; run B (another
profile, so another indicator set, and another parameter value) is accounted into the *same*
output folder and store. Before artifacts were run-addressed, B overwrote A's output folder: A's
parcel value changed, and with B's indicator set A's parcel call failed ("Missing raster …").
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import stat
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import geopandas as gpd
import pytest
from fastapi.testclient import TestClient
from shapely.geometry import mapping

import qingshan
from qingshan.api.app import create_app
from qingshan.api.settings import Settings
from qingshan.engine.config import load_config
from qingshan.engine.run import account
from qingshan.platform import jobs
from qingshan.platform.audit import Actor
from qingshan.store import repo
from qingshan.store.backup import backup, restore
from qingshan.store.db import open_store

pytestmark = pytest.mark.slow

COUNTY = "360124"  # 进贤县: cropland, forest and part of Poyang lake
PARAM = "sediment_deposition_ratio"
DROPPED = ("oxygen_release", "negative_ions")
DATA = Path(qingshan.__file__).parent / "data"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tree_hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): _sha(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def _county(folder: Path) -> Any:
    counties = gpd.read_file(folder / "regions.gpkg", layer="county").to_crs("EPSG:4326")
    return counties.loc[counties["code"] == COUNTY, "geometry"].iloc[0]


def _parcel_value(store_url: str, run_id: str, geom: Any) -> float:
    """The parcel's value through the API, as the public (anonymous) calls it."""
    with TestClient(create_app(Settings(store_url=store_url))) as client:
        r = client.post(f"/api/runs/{run_id}/parcel", json={"type": "Feature", "properties": {}, "geometry": mapping(geom)})
        assert r.status_code == 200, r.text
        return float(r.json()["gep"])


def _subset_profile(folder: Path) -> Path:
    """The example's profile without oxygen release and negative ions (raster indicators): another indicator set."""
    text = (DATA / "profiles" / "jiangxi-db36-2021.toml").read_text(encoding="utf-8")
    text = text.replace('id = "jiangxi-db36-2021"', 'id = "jiangxi-subset"', 1)
    for ind in DROPPED:
        text, n = re.subn(rf'\[\[indicators\]\]\nid = "{ind}"\n(?:[a-z_]+ = .*\n)*', "", text)
        assert n == 1, ind
    path = folder / "subset.toml"
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _gdp(store_url: str, run_id: str) -> float:
    with TestClient(create_app(Settings(store_url=store_url))) as client:
        r = client.get(f"/api/runs/{run_id}/gdp", params={"region": "360000"})
        assert r.status_code == 200, r.text
        return float(r.json()["gdp"])


def _publish(store_url: str, run_id: str) -> None:
    factory = open_store(store_url)
    jobs.set_publication(factory, Actor("approver", "accountant"), run_id, "approve", acknowledge_qc=True)
    jobs.set_publication(factory, Actor("publisher", "accountant"), run_id, "publish")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory, write_config: Any, example_dir: Path) -> SimpleNamespace:
    """Run A (published, with its facts read before B), then run B into the same output folder and store."""
    d = tmp_path_factory.mktemp("immutable")
    stats = d / "statistics.csv"  # A's own statistics, with a GDP row, changed after A ran
    shutil.copyfile(example_dir / "approx_statistics_2019.csv", stats)
    lines = [ln for ln in stats.read_text(encoding="utf-8").splitlines() if not ln.startswith("360000,2019,gdp,")]
    stats.write_text("\n".join([*lines, "360000,2019,gdp,24757.5,亿元,test"]) + "\n", encoding="utf-8")
    cfg_a = load_config(write_config(d / "a", run={"name": "A"}, tables={"statistics": str(stats)}))
    shared_out, url = d / "out", f"sqlite:///{d / 'store.sqlite'}"
    cfg_a = cfg_a.model_copy(update={"run": cfg_a.run.model_copy(update={"output": shared_out, "store": url})})
    a = account(cfg_a)
    _publish(url, a.run_id)
    factory = open_store(url)
    run_a = repo.get_run(factory, a.run_id)
    assert run_a is not None and a.artifacts_dir is not None
    county = _county(a.artifacts_dir)
    before = SimpleNamespace(parcel=_parcel_value(url, a.run_id, county), files=_tree_hashes(a.artifacts_dir),
                             hash=run_a.content_hash, manifest=run_a.artifacts, output=_tree_hashes(shared_out),
                             gdp=_gdp(url, a.run_id))
    assert before.gdp == pytest.approx(24757.5e8)
    stats.write_text(stats.read_text(encoding="utf-8").replace("24757.5", "99999.0"), encoding="utf-8")
    cfg_b = load_config(write_config(d / "b", run={"name": "B", "profile": str(_subset_profile(d / "b"))},
                                     parameters={PARAM: 0.4}))
    cfg_b = cfg_b.model_copy(update={"run": cfg_b.run.model_copy(update={"output": shared_out, "store": url})})
    b = account(cfg_b)
    return SimpleNamespace(a=a, b=b, url=url, factory=factory, county=county, before=before, out=shared_out,
                           data_dir=d / "qingshan-data", cfg_a=cfg_a)


def test_run_b_really_differs_and_took_over_the_output_folder(runs: SimpleNamespace) -> None:
    """The setting of the finding: B's output replaced A's in the shared folder (what A's readers used to read)."""
    assert runs.b.provenance["methods"].keys() != runs.a.provenance["methods"].keys()
    assert runs.b.provenance["parameters"][PARAM]["value"] == 0.4 != runs.a.provenance["parameters"][PARAM]["value"]
    assert runs.b.provenance["content_hash"] != runs.a.provenance["content_hash"]
    assert _tree_hashes(runs.out) != runs.before.output
    assert json.loads((runs.out / "provenance.json").read_text(encoding="utf-8"))["run_id"] == runs.b.run_id


def test_earlier_run_parcel_value_unchanged_after_later_run(runs: SimpleNamespace) -> None:
    assert _parcel_value(runs.url, runs.a.run_id, runs.county) == runs.before.parcel


def test_earlier_run_gdp_reads_its_own_statistics_copy(runs: SimpleNamespace) -> None:
    """The statistics file was edited after run A: A's GDP (and GEP/GDP) is still what A used."""
    assert _gdp(runs.url, runs.a.run_id) == runs.before.gdp


def test_earlier_run_artifact_bytes_and_hash_unchanged(runs: SimpleNamespace) -> None:
    run_a = repo.get_run(runs.factory, runs.a.run_id)
    assert run_a is not None
    assert run_a.content_hash == runs.before.hash
    assert run_a.artifacts == runs.before.manifest
    assert _tree_hashes(runs.a.artifacts_dir) == runs.before.files
    assert {e["name"]: e["sha256"] for e in run_a.artifacts} == runs.before.files


def test_artifacts_are_run_addressed_relative_and_read_only(runs: SimpleNamespace) -> None:
    run_a = repo.get_run(runs.factory, runs.a.run_id)
    assert run_a is not None
    assert run_a.artifacts_dir == f"runs/{runs.a.run_id}"  # relative to the data dir
    folder = runs.data_dir / run_a.artifacts_dir
    assert folder == runs.a.artifacts_dir
    names = {e["name"] for e in run_a.artifacts}
    assert {"gep_accounts.xlsx", "results.csv", "regions.gpkg", "provenance.json"} <= names
    assert any(n.startswith("rasters/") for n in names)
    for p in [folder, *folder.rglob("*")]:
        mode = stat.S_IMODE(p.stat().st_mode)
        assert mode & 0o222 == 0, (p, oct(mode))  # no write bit for anyone
    assert not [p.name for p in (runs.data_dir / "runs").iterdir() if p.name.startswith(".")]  # no temp folder


def test_artifact_download_with_sha256_header(runs: SimpleNamespace) -> None:
    with TestClient(create_app(Settings(store_url=runs.url))) as client:
        listed = client.get(f"/api/runs/{runs.a.run_id}/artifacts")
        assert listed.status_code == 200
        entry = next(e for e in listed.json() if e["name"] == "provenance.json")
        r = client.get(f"/api/runs/{runs.a.run_id}/artifacts/provenance.json")
        assert r.status_code == 200
        assert r.headers["x-content-sha256"] == entry["sha256"] == hashlib.sha256(r.content).hexdigest()
        assert client.get(f"/api/runs/{runs.a.run_id}/artifacts/../store.sqlite").status_code in (404, 422)
        missing = client.get(f"/api/runs/{runs.a.run_id}/artifacts/no_such_table.csv")  # was 422, as if malformed
        assert missing.status_code == 404, missing.text
        assert "no_such_table.csv" in missing.json()["message_en"] and missing.json()["message_zh"]
        # run B is not published: the public neither lists nor downloads its files
        assert client.get(f"/api/runs/{runs.b.run_id}/artifacts").status_code == 404
        assert client.get(f"/api/runs/{runs.b.run_id}/artifacts/results.csv").status_code == 404


def test_anonymous_run_detail_has_no_server_paths(runs: SimpleNamespace) -> None:
    with TestClient(create_app(Settings(store_url=runs.url))) as client:
        r = client.get(f"/api/runs/{runs.a.run_id}")
    assert r.status_code == 200
    text = r.text
    assert str(runs.out.parent) not in text and "/tmp" not in text, text[:500]
    assert "provenance.json" in {a["name"] for a in r.json()["artifacts"]}


def test_provenance_records_code_version_and_timezone(runs: SimpleNamespace) -> None:
    prov = runs.a.provenance
    assert prov["started"].endswith("+00:00")
    assert prov["code"]["version"] and len(prov["code"]["sources_sha256"]) == 64


def test_same_inputs_in_other_folders_give_the_same_content_hash(example_run: Any, example_dir: Path,
                                                                 tmp_path: Path) -> None:
    """Inputs copied to another folder, another run name, output folder and store: the same hash."""
    root = example_dir.parent.parent  # holds examples/jiangxi and tables (relative layout kept)
    moved = tmp_path / "elsewhere" / "copy"
    shutil.copytree(root, moved)
    cfg = load_config(moved / "examples" / "jiangxi" / "jiangxi-2019.toml")
    assert str(cfg.regions.file).startswith(str(moved))
    cfg = cfg.model_copy(update={"run": cfg.run.model_copy(update={
        "name": "another name", "output": tmp_path / "other-out", "store": f"sqlite:///{tmp_path / 'other.sqlite'}"})})
    assert cfg.run.name != load_config(example_run.output_dir.parent / "config.toml").run.name
    assert account(cfg).provenance["content_hash"] == example_run.provenance["content_hash"]


def test_backup_restored_elsewhere_gives_the_same_parcel_value(runs: SimpleNamespace, tmp_path: Path) -> None:
    dest = tmp_path / "backup"
    done = backup(runs.url, dest)
    assert done.runs == 2
    manifest = json.loads((dest / "manifest.json").read_text(encoding="utf-8"))
    assert all(len(f["sha256"]) == 64 for f in manifest["files"])
    target = tmp_path / "restored" / "q.sqlite"
    restore(dest, f"sqlite:///{target}")
    shutil.rmtree(runs.data_dir.parent / "b", ignore_errors=True)  # nothing of the original is needed ...
    url = f"sqlite:///{target}"
    assert _parcel_value(url, runs.a.run_id, runs.county) == runs.before.parcel
    restored = repo.get_run(open_store(url), runs.a.run_id)
    assert restored is not None and restored.content_hash == runs.before.hash
    assert _tree_hashes(target.parent / "qingshan-data" / "runs" / runs.a.run_id) == runs.before.files


def test_restore_refuses_a_non_empty_target_without_force(runs: SimpleNamespace, tmp_path: Path) -> None:
    from qingshan.core.errors import InputError

    dest = tmp_path / "bk"
    backup(runs.url, dest)
    with pytest.raises(InputError, match="not empty"):
        restore(dest, runs.url)
    with pytest.raises(InputError, match="not empty"):
        backup(runs.url, dest)
    other = f"sqlite:///{tmp_path / 'r' / 'q.sqlite'}"
    restore(dest, other)
    restore(dest, other, force=True)  # replaces
    assert {r.id for r in repo.list_runs(open_store(other))} == {runs.a.run_id, runs.b.run_id}


@pytest.fixture
def damaged_backup(runs: SimpleNamespace, tmp_path: Path) -> Path:
    dest = tmp_path / "bk"
    backup(runs.url, dest)
    victim = dest / "data" / "runs" / runs.a.run_id / "results.csv"
    victim.write_bytes(victim.read_bytes()[:-10])
    return dest


def test_restore_refuses_a_damaged_backup(damaged_backup: Path, tmp_path: Path) -> None:
    from qingshan.core.errors import InputError

    target = tmp_path / "r" / "q.sqlite"
    with pytest.raises(InputError, match=r"results\.csv"):
        restore(damaged_backup, f"sqlite:///{target}")
    assert not target.exists()
