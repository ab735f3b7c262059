"""Attacks on the trust guarantees of runs and published results (attack pass of 2026-12-03).

Each test names what it found. The parent run is a tiny ``qingshan synth`` dataset accounted once for the module;
the runs a test changes are revaluations of it (a second each), so that no test spoils another's run.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient
from shapely.geometry import mapping
from shapely.geometry import shape as geometry_shape

from qingshan.api.app import create_app
from qingshan.api.settings import Settings
from qingshan.core.errors import ArtifactIntegrityError
from qingshan.engine.revalue import complete_exports, ensure_export, revalue
from qingshan.platform import accounts, jobs
from qingshan.platform.audit import Actor
from qingshan.store import repo
from qingshan.store.artifacts import artifact_dir, find_data_dir
from qingshan.store.db import open_store
from qingshan.store.run_writer import CoreRunWriter, SqliteRunWriter

pytestmark = pytest.mark.slow

SYSTEM = Actor(None, "admin")  # as `qingshan publish`: no requester, no four-eyes conflict
PASSWORD = "correct horse battery trust"


@pytest.fixture(scope="module")
def parent(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    from qingshan.engine.config import load_config
    from qingshan.engine.run import account, store_url_of
    from qingshan.synth import SynthSpec, write_synth

    cfg_path = write_synth(tmp_path_factory.mktemp("trust") / "data", SynthSpec(size=48, seed=7, counties=3))
    cfg = load_config(cfg_path)
    out = account(cfg)
    url = store_url_of(cfg)
    return SimpleNamespace(run_id=out.run_id, url=url, prices=cfg_path.parent / "tables" / "prices_default.csv",
                           data_dir=find_data_dir(url))


def _child(parent: SimpleNamespace) -> str:
    """A new revalued run of the parent at the parent's prices (same numbers, its own sealed folder)."""
    return revalue(parent.url, parent.run_id, prices=parent.prices).run_id


def _publish(url: str, run_id: str) -> None:
    jobs.set_publication(open_store(url), SYSTEM, run_id, "approve", acknowledge_qc=True)
    jobs.set_publication(open_store(url), SYSTEM, run_id, "publish",
                         prepare=lambda: complete_exports(open_store(url), run_id, find_data_dir(url)))


def _writable(path: Path) -> None:
    os.chmod(path.parent, stat.S_IRWXU)
    if path.exists() and not path.is_symlink():
        os.chmod(path, 0o644)


@pytest.fixture(scope="module")
def client(parent: SimpleNamespace) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(store_url=parent.url))) as c:
        yield c


def _bilingual(r: Any) -> None:
    body = r.json()
    assert body["message_en"] and body["message_zh"] and body["fix"] and body["fix_zh"]
    assert "Traceback" not in r.text and "/tmp/" not in r.text


# ----------------------------------------------------------------------------- tampering with sealed files
def test_an_edited_artifact_of_a_published_run_is_refused_not_served(parent: SimpleNamespace,
                                                                     client: TestClient) -> None:
    """Found: a sealed file edited in the data dir (chmod, then one digit changed) was served to the public with
    the SHA-256 recorded at sealing in ``X-Content-SHA256`` — a bank checking the header against the bytes would
    catch it, one trusting the header would not. The catalogue checked; run downloads did not."""
    run_id = _child(parent)
    _publish(parent.url, run_id)
    path = artifact_dir(repo.get_run(open_store(parent.url), run_id), parent.data_dir) / "results.csv"
    good = client.get(f"/api/runs/{run_id}/artifacts/results.csv")
    assert good.status_code == 200 and good.headers["X-Content-SHA256"] == hashlib.sha256(good.content).hexdigest()
    _writable(path)
    text = path.read_bytes()
    i = next(i for i, b in enumerate(text) if chr(b).isdigit() and i > text.index(b"\n"))
    path.write_bytes(text[:i] + (b"1" if text[i:i + 1] != b"1" else b"2") + text[i + 1:])  # same size, one digit
    r = client.get(f"/api/runs/{run_id}/artifacts/results.csv")
    assert r.status_code == 409, (r.status_code, r.headers.get("X-Content-SHA256"))
    _bilingual(r)
    assert r.json()["error"] == "artifact_integrity"


def test_an_artifact_replaced_by_a_symlink_is_refused(parent: SimpleNamespace, client: TestClient,
                                                      tmp_path: Path) -> None:
    """Found: ``provenance.json`` replaced by a symbolic link to a writable file outside the sealed folder was served
    (the link was followed); even with the same bytes today, tomorrow's are anyone's."""
    run_id = _child(parent)
    _publish(parent.url, run_id)
    path = artifact_dir(repo.get_run(open_store(parent.url), run_id), parent.data_dir) / "provenance.json"
    outside = tmp_path / "provenance.json"
    outside.write_bytes(path.read_bytes())  # the very same bytes: only the link is wrong
    _writable(path)
    path.unlink()
    path.symlink_to(outside)
    r = client.get(f"/api/runs/{run_id}/artifacts/provenance.json")
    assert r.status_code == 409, r.status_code
    _bilingual(r)


def test_an_on_demand_export_is_never_built_from_an_edited_results_csv(parent: SimpleNamespace) -> None:
    """Found: a revalued run's workbook (built at its first download, or when it is published) was built from the
    sealed ``results.csv`` without checking it against the manifest: an edited number went into
    ``gep_accounts.xlsx``, which was then sealed and recorded with a fresh, valid SHA-256 — the edit laundered."""
    factory = open_store(parent.url)
    run_id = _child(parent)
    run = repo.get_run(factory, run_id)
    path = artifact_dir(run, parent.data_dir) / "results.csv"
    _writable(path)
    text = path.read_bytes()
    i = text.rindex(b".") - 1  # a digit of the last number changed, the size kept
    path.write_bytes(text[:i] + (b"1" if text[i:i + 1] != b"1" else b"2") + text[i + 1:])
    with pytest.raises(ArtifactIntegrityError):
        ensure_export(factory, run, parent.data_dir, "gep_accounts.xlsx")
    jobs.set_publication(factory, SYSTEM, run_id, "approve", acknowledge_qc=True)
    with pytest.raises(ArtifactIntegrityError):
        jobs.set_publication(factory, SYSTEM, run_id, "publish",
                             prepare=lambda: complete_exports(factory, run_id, parent.data_dir))
    after = repo.get_run(factory, run_id)
    assert not any(e["name"] == "gep_accounts.xlsx" for e in after.artifacts or [])
    assert run_id not in jobs.published_run_ids(factory)


# ----------------------------------------------------------------------------- a succeeded run stays succeeded
@pytest.mark.parametrize("writer", [CoreRunWriter, SqliteRunWriter])
def test_a_succeeded_run_is_never_turned_failed(parent: SimpleNamespace, writer: Any) -> None:
    """Found: ``finish_run_failed`` had no ``status = 'running'`` condition: called on a succeeded run (see the next
    test for how) it marked it failed and deleted every result row — a published run included."""
    factory = open_store(parent.url)
    run_id = _child(parent)
    _publish(parent.url, run_id)
    rows = len(repo.read_results(factory, run_id))
    w = writer.open(parent.url)
    changed = w.finish_run_failed(run_id, {"error": "x", "message_en": "late", "message_zh": "迟"})
    run = repo.get_run(factory, run_id)
    assert run.status == "succeeded" and run.error is None
    assert len(repo.read_results(factory, run_id)) == rows > 0
    assert changed is False


def test_an_interrupt_after_the_commit_keeps_the_run_and_its_files(parent: SimpleNamespace,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Found: Ctrl-C (or any error) arriving after the run was committed ``succeeded`` — while the lease thread
    was being stopped — made ``qingshan revalue`` / ``account`` mark the committed run failed, delete its rows and
    remove its sealed folder, under the feet of anyone already reading (or publishing) it."""
    from qingshan.store import lifecycle

    def interrupted(self: lifecycle.LeaseKeeper) -> None:
        self._stop.set()
        raise KeyboardInterrupt

    monkeypatch.setattr(lifecycle.LeaseKeeper, "stop", interrupted)
    factory = open_store(parent.url)
    before = {r.id for r in repo.list_runs(factory)}
    with pytest.raises(KeyboardInterrupt):
        revalue(parent.url, parent.run_id, prices=parent.prices)
    monkeypatch.undo()
    (new,) = [r for r in repo.list_runs(factory) if r.id not in before]
    assert new.status == "succeeded", new.error
    assert len(repo.read_results(factory, new.id)) > 0
    folder = artifact_dir(new, parent.data_dir)
    assert all((folder / e["name"]).is_file() for e in new.artifacts)


# ----------------------------------------------------------------------------- ids and roles (held; kept as guards)
@pytest.mark.parametrize("run_id", ["-1", "0", "99999999999999999999999999", "abc", "%00", "..%2F..%2Fetc",
                                    "x" * 5000, "' OR 1=1 --", "%E4%B8%AD"])
def test_odd_run_ids_are_bilingual_4xx(client: TestClient, run_id: str) -> None:
    for path in ("", "/artifacts", "/artifacts/results.csv", "/results", "/summary", "/ranking"):
        r = client.get(f"/api/runs/{run_id}{path}")
        assert 400 <= r.status_code < 500, (path, r.status_code, r.text[:200])
        if r.status_code != 404 or r.headers.get("content-type", "").startswith("application/json"):
            assert "Traceback" not in r.text


def test_the_public_and_viewers_cannot_publish_revalue_or_read_unpublished(parent: SimpleNamespace,
                                                                          client: TestClient) -> None:
    factory = open_store(parent.url)
    run_id = _child(parent)
    jobs.set_publication(factory, SYSTEM, run_id, "approve", acknowledge_qc=True)
    accounts.create_user(factory, "trust_viewer", PASSWORD, "viewer")
    token = client.post("/api/auth/login", json={"username": "trust_viewer", "password": PASSWORD}).json()["token"]
    client.cookies.clear()
    for headers in ({}, {"Authorization": f"Bearer {token}"}):
        assert client.post(f"/api/runs/{run_id}/publish", headers=headers).status_code in (401, 403)
        assert client.post(f"/api/runs/{run_id}/withdraw", headers=headers).status_code in (401, 403)
        r = client.post(f"/api/runs/{run_id}/revalue", json={"prices_csv": parent.prices.read_text()}, headers=headers)
        assert r.status_code in (401, 403)
        for path in ("", "/artifacts", "/artifacts/results.csv", "/results", "/summary"):
            assert client.get(f"/api/runs/{run_id}{path}", headers=headers).status_code == 404, path
    assert run_id not in jobs.published_run_ids(factory)


# ----------------------------------------------------------------------------- one output folder, two runs
def test_runs_exporting_into_one_folder_at_once_all_succeed(tmp_path: Path) -> None:
    """Found: two runs copying into the same export folder at once (``qingshan account -o DIR`` twice) raced on the
    folder's rename: one failed at its very end with a bare FileNotFoundError/OSError (7 of 600 copies here) and
    its finished run was marked failed."""
    import threading

    from qingshan.store.artifacts import export_copy

    sealed = tmp_path / "sealed"
    sealed.mkdir()
    manifest = []
    for i in range(30):
        (sealed / f"f{i}.txt").write_text(str(i) * 100, encoding="utf-8")
        manifest.append({"name": f"f{i}.txt"})
    errors: list[str] = []

    def copy() -> None:
        try:
            export_copy(sealed, tmp_path / "out", manifest)
        except Exception as exc:
            errors.append(repr(exc))

    for _ in range(200):
        threads = [threading.Thread(target=copy) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(e["name"] for e in manifest)
    assert not [p.name for p in tmp_path.iterdir() if ".tmp-" in p.name or p.name.endswith(".old")]


# ----------------------------------------------------------------------------- per-cell rasters
def _times_ten(path: Path) -> None:
    """Rewrite a raster with every value times ten (a new file renamed over the sealed one: a hard-linked parent
    raster keeps its bytes)."""
    import numpy as np
    import rasterio

    _writable(path)
    with rasterio.open(path) as src:
        profile, data = src.profile, src.read()
    profile.update(tiled=False)
    profile.pop("blockxsize", None)
    profile.pop("blockysize", None)
    tmp = path.with_name(path.name + ".new")
    with rasterio.open(tmp, "w", **profile) as dst:
        dst.write(data * 10 if np.issubdtype(data.dtype, np.floating) else data)
    os.replace(tmp, path)


def test_a_parcel_is_never_valued_from_edited_rasters(parent: SimpleNamespace, client: TestClient) -> None:
    """Found: the per-cell rasters of a published run rewritten in the data dir (every value x10) changed its parcel
    value (126 M → 1 033 M CNY) with a 200 and no warning; a raster the run was not sealed with was read too."""
    factory = open_store(parent.url)
    run_id = _child(parent)
    _publish(parent.url, run_id)
    regions = repo.read_regions(factory, run_id, with_geometry=True)  # GeoJSON in WGS84
    shape = geometry_shape(json.loads(regions["geometry"].iloc[0])).centroid.buffer(0.01)
    feature = {"type": "Feature", "properties": {}, "geometry": mapping(shape)}
    good = client.post(f"/api/runs/{run_id}/parcel", json=feature)
    assert good.status_code == 200, good.text
    folder = artifact_dir(repo.get_run(factory, run_id), parent.data_dir)
    for path in sorted((folder / "rasters").glob("*.tif")):
        _times_ten(path)
    r = client.post(f"/api/runs/{run_id}/parcel", json=feature)
    assert r.status_code == 409, (r.status_code, good.json()["gep"], r.json().get("gep"))
    _bilingual(r)


def test_a_raster_added_to_a_sealed_folder_is_refused(tmp_path: Path) -> None:
    """The parcel reader globs ``rasters/*.<year>.tif``: a raster the run was not sealed with must not be read."""
    from qingshan.store.artifacts import check_year_files, seal

    staging = tmp_path / "staging"
    (staging / "rasters").mkdir(parents=True)
    (staging / "rasters" / "water.quantity.2019.tif").write_bytes(b"sealed")
    rel, manifest = seal(staging, tmp_path, "r1")
    run = SimpleNamespace(id="r1", artifacts_dir=rel, artifacts=manifest)
    folder = tmp_path / rel
    check_year_files(run, folder, 2019)  # as sealed: passes
    os.chmod(folder / "rasters", stat.S_IRWXU)
    (folder / "rasters" / "extra.quantity.2019.tif").write_bytes(b"planted")
    with pytest.raises(ArtifactIntegrityError, match="not one of the files sealed"):
        check_year_files(run, folder, 2019)


# ----------------------------------------------------------------------------- result rows against the sealed table
def test_runs_verify_finds_a_result_row_changed_in_the_store(parent: SimpleNamespace) -> None:
    """Found: one ``UPDATE results SET value = value * 2`` on a published run doubled its summary through the API
    (126 M → 253 M CNY) with no sign anywhere, while its sealed results.csv still downloaded unchanged. The API still
    serves the rows (checking every read against the CSV is left open); ``qingshan runs --verify`` now finds it."""
    import sqlite3

    from typer.testing import CliRunner

    from qingshan.cli import app
    from qingshan.store.verify import verify_run

    factory = open_store(parent.url)
    run_id = _child(parent)
    _publish(parent.url, run_id)
    assert verify_run(factory, repo.get_run(factory, run_id), parent.data_dir) == []
    runner = CliRunner()
    args = ["runs", "--verify", "--store", parent.url, "--data-dir", str(parent.data_dir)]
    clean = runner.invoke(app, args)
    assert clean.exit_code in (0, 1)  # other tests of this module may have edited their own runs' files
    with sqlite3.connect(parent.url.removeprefix("sqlite:///")) as db:
        db.execute("UPDATE results SET value = value * 2 WHERE run_id = ? AND value > 0 AND rowid IN "
                   "(SELECT rowid FROM results WHERE run_id = ? AND value > 0 LIMIT 1)", (run_id, run_id))
    problems = verify_run(factory, repo.get_run(factory, run_id), parent.data_dir)
    assert len(problems) == 1 and "value" in problems[0].en and problems[0].zh
    r = runner.invoke(app, args)
    assert r.exit_code == 1 and run_id in r.output


def test_a_run_whose_rows_were_changed_in_the_store_is_not_published(parent: SimpleNamespace,
                                                                     client: TestClient) -> None:
    """Found: a result row changed in the store after the run was sealed (and before its publication) was published
    as it stood. Publication (API and ``qingshan publish``) now checks files and rows first: bilingual 409."""
    import sqlite3

    from typer.testing import CliRunner

    from qingshan.cli import app

    factory = open_store(parent.url)
    run_id = _child(parent)
    jobs.set_publication(factory, SYSTEM, run_id, "approve", acknowledge_qc=True)
    with sqlite3.connect(parent.url.removeprefix("sqlite:///")) as db:
        db.execute("UPDATE results SET value = value + 1 WHERE rowid = (SELECT min(rowid) FROM results "
                   "WHERE run_id = ? AND value > 0)", (run_id,))
    accounts.create_user(factory, "trust_publisher", PASSWORD, "accountant")
    token = client.post("/api/auth/login", json={"username": "trust_publisher", "password": PASSWORD}).json()["token"]
    client.cookies.clear()
    r = client.post(f"/api/runs/{run_id}/publish", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 409, r.text
    _bilingual(r)
    cli = CliRunner().invoke(app, ["publish", run_id, "--store", parent.url])
    assert cli.exit_code != 0
    assert run_id not in jobs.published_run_ids(factory)


def test_an_interrupt_after_the_commit_of_an_account_keeps_the_run(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """As ``test_an_interrupt_after_the_commit_keeps_the_run_and_its_files``, for ``qingshan account``."""
    from qingshan.engine.config import load_config
    from qingshan.engine.run import account, store_url_of
    from qingshan.store import lifecycle
    from qingshan.synth import SynthSpec, write_synth

    cfg = load_config(write_synth(tmp_path / "data", SynthSpec(size=32, seed=3, counties=2)))

    def interrupted(self: lifecycle.LeaseKeeper) -> None:
        self._stop.set()
        raise KeyboardInterrupt

    monkeypatch.setattr(lifecycle.LeaseKeeper, "stop", interrupted)
    with pytest.raises(KeyboardInterrupt):
        account(cfg)
    monkeypatch.undo()
    factory = open_store(store_url_of(cfg))
    (run,) = repo.list_runs(factory)
    assert run.status == "succeeded", run.error
    assert len(repo.read_results(factory, run.id)) > 0
    folder = artifact_dir(run, find_data_dir(store_url_of(cfg)))
    assert all((folder / e["name"]).is_file() for e in run.artifacts)


def test_a_scenario_never_copies_edited_rasters_of_its_base(tmp_path: Path) -> None:
    """Found: a scenario copies its base run's per-cell rasters (and reuses its rows) for what it does not recompute;
    rasters edited in the base's sealed folder were copied into the new scenario run and sealed there with fresh,
    valid SHA-256s. The base is now checked first."""
    from qingshan.engine.config import load_config
    from qingshan.engine.run import account, store_url_of
    from qingshan.synth import SynthSpec, write_synth
    from qingshan.use.scenario import ScenarioSpec, run_scenario

    cfg = load_config(write_synth(tmp_path / "data", SynthSpec(size=32, seed=3, counties=2)))
    base = account(cfg)
    url = store_url_of(cfg)
    factory = open_store(url)
    run = repo.get_run(factory, base.run_id)
    folder = artifact_dir(run, find_data_dir(url))
    raster = sorted((folder / "rasters").glob("*.tif"))[0]
    _times_ten(raster)
    before = {r.id for r in repo.list_runs(factory)}
    with pytest.raises(ArtifactIntegrityError):
        run_scenario(factory, url, base.run_id, ScenarioSpec(), output=tmp_path / "scenario")
    assert {r.id for r in repo.list_runs(factory)} == before
