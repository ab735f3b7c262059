"""``qingshan revalue`` / POST /api/runs/{id}/revalue: a stored run at new prices into a new, linked run.

The parent is the session's tiny synth run (``synth_run`` in conftest.py): nothing here recomputes a raster.
"""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qingshan.engine.revalue import QuantityParameterError, ensure_export, revalue
from qingshan.store import repo
from qingshan.store.artifacts import artifact_dir, find_data_dir
from qingshan.store.db import open_store

KEYS = ["region_code", "year", "indicator", "component", "ecosystem"]


def _prices(cfg_path: Path) -> Path:
    return cfg_path.parent / "tables" / "prices_default.csv"


def _scaled_prices(src: Path, dest: Path, key: str, factor: float) -> Path:
    with open(src, encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    for r in rows[1:]:
        if r and r[0] == key:
            r[1] = repr(float(r[1]) * factor)
    with open(dest, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return dest


def _params(dest: Path, key: str, value: float, unit: str) -> Path:
    dest.write_text(f"param_key,value,unit,source,certainty,note\n{key},{value},{unit},test,R,\n", encoding="utf-8")
    return dest


def _merged(url: str, a: str, b: str) -> pd.DataFrame:
    f = open_store(url)
    return repo.read_results(f, a).merge(repo.read_results(f, b), on=KEYS, suffixes=("_p", "_c"), validate="1:1")


def _tree_sha(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _same(a: pd.Series, b: pd.Series) -> bool:
    return bool(((a == b) | (a.isna() & b.isna())).all())


def test_same_prices_reproduce_the_parent_exactly(synth_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cfg_path, parent, url = synth_run
    out = revalue(url, parent.run_id, prices=_prices(cfg_path), output=tmp_path / "copy")
    assert out.run_id != parent.run_id and out.parent_id == parent.run_id
    m = _merged(url, parent.run_id, out.run_id)
    assert len(m) == len(parent.results)
    for col in ("quantity", "price", "value", "value_comparable"):
        assert _same(m[f"{col}_p"], m[f"{col}_c"]), col
    child = repo.get_run(open_store(url), out.run_id)
    assert child is not None and child.parent_run_id == parent.run_id and child.status == "succeeded"
    assert child.content_hash != parent.provenance["content_hash"]
    assert child.provenance["parent_run_id"] == parent.run_id
    assert "not recomputed" in child.provenance["revaluation"]["per_cell_values"]
    assert (tmp_path / "copy" / "results.csv").is_file()
    again = revalue(url, parent.run_id, prices=_prices(cfg_path))  # same meaning → same content hash
    assert again.provenance["content_hash"] == child.content_hash


def test_doubled_price_doubles_that_indicator_only(synth_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cfg_path, parent, url = synth_run
    doubled = _scaled_prices(_prices(cfg_path), tmp_path / "prices.csv", "oxygen_price", 2.0)
    out = revalue(url, parent.run_id, prices=doubled)
    m = _merged(url, parent.run_id, out.run_id)
    hit = m["indicator"] == "oxygen_release"
    assert hit.any() and (m.loc[hit, "value_p"] > 0).any()
    for col in ("value", "value_comparable", "price"):
        assert (m.loc[hit, f"{col}_c"] == 2 * m.loc[hit, f"{col}_p"]).all(), col  # exact: ×2 is exact in binary
        assert _same(m.loc[~hit, f"{col}_p"], m.loc[~hit, f"{col}_c"]), col
    assert _same(m["quantity_p"], m["quantity_c"])


def test_parent_artifacts_and_record_never_change(synth_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cfg_path, parent, url = synth_run
    factory = open_store(url)
    before = repo.get_run(factory, parent.run_id)
    assert before is not None
    folder = artifact_dir(before, find_data_dir(url))
    shas = _tree_sha(folder)
    assert shas == {e["name"]: e["sha256"] for e in before.artifacts}
    out = revalue(url, parent.run_id, prices=_scaled_prices(_prices(cfg_path), tmp_path / "p.csv", "carbon_price", 3.0))
    child = repo.get_run(factory, out.run_id)
    for name in ("gep_accounts.xlsx", "regions.gpkg"):  # exports on demand: built once, sealed, hash recorded
        child = ensure_export(factory, child, find_data_dir(url), name)
        entry = next(e for e in child.artifacts if e["name"] == name)
        assert entry["sha256"] == hashlib.sha256((out.artifacts_dir / name).read_bytes()).hexdigest()
    assert ensure_export(factory, child, find_data_dir(url), "gep_accounts.xlsx").artifacts == child.artifacts
    after = repo.get_run(factory, parent.run_id)
    assert _tree_sha(folder) == shas
    assert (after.artifacts, after.content_hash, after.provenance) == (before.artifacts, before.content_hash,
                                                                       before.provenance)
    rasters = [n for n in shas if n.startswith("rasters/")]
    assert rasters and all((out.artifacts_dir / n).samefile(folder / n) for n in rasters)  # shared, not rewritten


def test_a_parameter_that_changes_quantities_is_refused(synth_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cfg_path, parent, url = synth_run
    n_runs = len(repo.list_runs(open_store(url)))
    with pytest.raises(QuantityParameterError) as e:
        revalue(url, parent.run_id, prices=_prices(cfg_path),
                params=_params(tmp_path / "p.csv", "soil_bulk_density", 1.3, "t/m3"))
    err = e.value
    assert "soil_bulk_density" in err.en and "soil_bulk_density" in err.zh and err.field == "soil_bulk_density"
    assert "qingshan account" in err.fix and "qingshan account" in err.fix_zh and "实物量" in err.zh
    assert len(repo.list_runs(open_store(url))) == n_runs  # nothing recorded
    # the same value, and a parameter no method of the run reads, are accepted (the latter recorded as such)
    same = parent.provenance["parameters"]["soil_bulk_density"]
    revalue(url, parent.run_id, prices=_prices(cfg_path),
            params=_params(tmp_path / "s.csv", "soil_bulk_density", same["value"], same["unit"]))
    # a parameter no method of this run reads (the run's profile excludes livestock; flood regulation reads
    # reservoir_flood_share, which an earlier version of this test wrongly took as inert)
    from qingshan.engine.revalue import quantity_parameters

    used = quantity_parameters(parent.provenance["methods"])
    assert "reservoir_flood_share" in used
    inert = "gdp_deflator_base" if "gdp_deflator_base" not in used else "an_unused_parameter"
    out = revalue(url, parent.run_id, prices=_prices(cfg_path),
                  params=_params(tmp_path / "i.csv", inert, 0.5, "1"))
    assert out.provenance["revaluation"]["parameters_not_affecting_quantities"] == [inert]


def test_new_base_year_and_deflator_change_comparable_values_only(synth_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cfg_path, parent, url = synth_run
    out = revalue(url, parent.run_id, prices=_prices(cfg_path), base_year=2015)
    m = _merged(url, parent.run_id, out.run_id)
    assert _same(m["value_p"], m["value_c"])
    valued = m["value_p"].notna() & (m["value_p"] > 0)
    ratio = (m.loc[valued, "value_comparable_c"] / m.loc[valued, "value_comparable_p"]).to_numpy()
    assert np.allclose(ratio, ratio[0]) and ratio[0] < 1  # 2019 → 2015 prices: one deflator factor, below 1


# ----------------------------------------------------------------------------- API
PASSWORD = "correct horse battery revalue"


@pytest.fixture(scope="module")
def api(synth_run):  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from qingshan.api.app import create_app
    from qingshan.api.settings import Settings
    from qingshan.platform import accounts

    _, parent, url = synth_run
    factory = open_store(url)
    accounts.create_user(factory, "rv_accountant", PASSWORD, "accountant")
    failed = "00000000-0000-4000-8000-00000000f00d"
    repo.start_run(factory, run_id=failed, name="broken", profile="jiangxi-db36-2021", years=[2019], base_year=2019,
                   config={}, code_version="test")
    repo.finish_run_failed(factory, failed, {"error": "input_error", "message_en": "x", "message_zh": "错"})
    with TestClient(create_app(Settings(store_url=url))) as client:
        r = client.post("/api/auth/login", json={"username": "rv_accountant", "password": PASSWORD})
        assert r.status_code == 200, r.text
        client.cookies.clear()
        yield client, {"Authorization": f"Bearer {r.json()['token']}"}, parent, failed


def _bilingual(r) -> None:  # type: ignore[no-untyped-def]
    body = r.json()
    assert body["message_en"] and body["message_zh"] and "Traceback" not in r.text and "/tmp/" not in r.text


def test_api_revalue_creates_a_linked_run_and_builds_exports_on_demand(api, synth_run) -> None:  # type: ignore[no-untyped-def]
    client, headers, parent, _ = api
    prices = _prices(synth_run[0]).read_text(encoding="utf-8")
    r = client.post(f"/api/runs/{parent.run_id}/revalue", json={"prices_csv": prices, "name": "at new prices"},
                    headers=headers)
    assert r.status_code == 201, r.text
    child = r.json()["run"]
    assert child["parent_run_id"] == parent.run_id and child["name"] == "at new prices"
    detail = client.get(f"/api/runs/{child['id']}", headers=headers).json()
    assert detail["parent_run_id"] == parent.run_id and detail["provenance"]["parent_run_id"] == parent.run_id
    names = [a["name"] for a in detail["artifacts"]]
    assert "results.csv" in names and "gep_accounts.xlsx" not in names
    first = client.get(f"/api/runs/{child['id']}/artifacts/gep_accounts.xlsx", headers=headers)
    assert first.status_code == 200
    assert first.headers["X-Content-SHA256"] == hashlib.sha256(first.content).hexdigest()
    second = client.get(f"/api/runs/{child['id']}/artifacts/gep_accounts.xlsx", headers=headers)
    assert second.content == first.content
    listed = client.get(f"/api/runs/{child['id']}/artifacts", headers=headers).json()
    assert any(a["name"] == "gep_accounts.xlsx" and a["sha256"] == first.headers["X-Content-SHA256"] for a in listed)
    jobs = client.get("/api/jobs", headers=headers).json()
    assert any(j["kind"] == "revalue" and j["run_id"] == child["id"] and j["requested_by"] == "rv_accountant"
               for j in jobs)


def test_a_published_revalued_run_has_every_export_and_its_manifest_never_grows(api, synth_run) -> None:  # type: ignore[no-untyped-def]
    """Found (attack pass): the first download of a published revalued run's workbook or GeoPackage — by anyone,
    the public too — built it and appended it to the manifest a bank had already recorded. Publishing now builds
    every export first."""
    from qingshan.platform import accounts
    from qingshan.platform.audit import Actor
    from qingshan.platform.jobs import set_publication

    client, headers, parent, _ = api
    prices = _prices(synth_run[0]).read_text(encoding="utf-8")
    child = client.post(f"/api/runs/{parent.run_id}/revalue", json={"prices_csv": prices}, headers=headers).json()["run"]
    factory = open_store(synth_run[2])
    set_publication(factory, Actor("admin", "admin"), child["id"], "approve", acknowledge_qc=True)
    accounts.create_user(factory, "rv_publisher", PASSWORD, "accountant")
    login = client.post("/api/auth/login", json={"username": "rv_publisher", "password": PASSWORD}).json()
    client.cookies.clear()
    r = client.post(f"/api/runs/{child['id']}/publish", headers={"Authorization": f"Bearer {login['token']}"})
    assert r.status_code == 200, r.text
    published = client.get(f"/api/runs/{child['id']}/artifacts").json()  # anonymous: the run is public now
    names = {a["name"] for a in published}
    assert {"gep_accounts.xlsx", "regions.gpkg", "qc_report.md"} <= names
    for name in ("gep_accounts.xlsx", "regions.gpkg"):
        got = client.get(f"/api/runs/{child['id']}/artifacts/{name}")
        assert got.status_code == 200
        assert got.headers["X-Content-SHA256"] == hashlib.sha256(got.content).hexdigest()
    assert client.get(f"/api/runs/{child['id']}/artifacts").json() == published  # unchanged by the downloads


def test_a_refused_publication_builds_no_export(api, synth_run) -> None:  # type: ignore[no-untyped-def]
    """Found (review of the fix above): the exports were built before the four-eyes check, so the requester's own
    publish — refused with 403 — still wrote three files into the approved run and grew its manifest. They are built
    once the publication is allowed."""
    from qingshan.platform.audit import Actor
    from qingshan.platform.jobs import set_publication

    client, headers, parent, _ = api
    prices = _prices(synth_run[0]).read_text(encoding="utf-8")
    child = client.post(f"/api/runs/{parent.run_id}/revalue", json={"prices_csv": prices}, headers=headers).json()["run"]
    set_publication(open_store(synth_run[2]), Actor("admin", "admin"), child["id"], "approve", acknowledge_qc=True)
    before = client.get(f"/api/runs/{child['id']}/artifacts", headers=headers).json()
    r = client.post(f"/api/runs/{child['id']}/publish", headers=headers)  # the requester: four-eyes
    assert r.status_code == 403, r.text
    assert client.get(f"/api/runs/{child['id']}/artifacts", headers=headers).json() == before
    assert "gep_accounts.xlsx" not in {a["name"] for a in before}  # still on demand: the check above can fail


def test_a_refused_cli_publication_builds_no_export(synth_run) -> None:  # type: ignore[no-untyped-def]
    """The same at the command line (review): ``qingshan publish`` built the exports before approving, so a publish
    refused for an unacknowledged QC report (exit 2) still wrote three files into the draft run."""
    from typer.testing import CliRunner

    from qingshan.cli import app

    cfg_path, parent, url = synth_run
    child = revalue(url, parent.run_id, prices=_prices(cfg_path)).run_id
    factory = open_store(url)
    before = [a["name"] for a in repo.get_run(factory, child).artifacts]
    r = CliRunner().invoke(app, ["publish", child, "--store", url])  # no --acknowledge-qc: refused
    assert r.exit_code == 2, r.output
    assert [a["name"] for a in repo.get_run(factory, child).artifacts] == before
    assert "gep_accounts.xlsx" not in before
    r = CliRunner().invoke(app, ["publish", child, "--store", url, "--acknowledge-qc"])
    assert r.exit_code == 0, r.output
    assert {"gep_accounts.xlsx", "regions.gpkg", "qc_report.md"} <= {a["name"] for a in repo.get_run(factory, child).artifacts}


def test_api_revalue_4xx_are_bilingual(api, synth_run) -> None:  # type: ignore[no-untyped-def]
    client, headers, parent, failed = api
    prices = _prices(synth_run[0]).read_text(encoding="utf-8")
    url = f"/api/runs/{parent.run_id}/revalue"
    r = client.post(url, json={"prices_csv": prices})
    assert r.status_code == 401
    _bilingual(r)
    r = client.post("/api/runs/no-such-run/revalue", json={"prices_csv": prices}, headers=headers)
    assert r.status_code == 404
    _bilingual(r)
    r = client.post(f"/api/runs/{failed}/revalue", json={"prices_csv": prices}, headers=headers)
    assert r.status_code == 409
    _bilingual(r)
    r = client.post(url, json={"prices_csv": "price_key,value\noxygen_price,abc\n"}, headers=headers)
    assert r.status_code == 422
    _bilingual(r)
    params = "param_key,value,unit,source,certainty,note\nsoil_bulk_density,1.4,t/m3,x,R,\n"
    r = client.post(url, json={"prices_csv": prices, "params_csv": params}, headers=headers)
    assert r.status_code == 422 and "soil_bulk_density" in r.json()["message_en"]
    assert "qingshan account" in r.json()["fix"]
    _bilingual(r)
    no_oxygen = "\n".join(line for line in prices.splitlines() if not line.startswith("oxygen_price"))
    r = client.post(url, json={"prices_csv": no_oxygen}, headers=headers)
    assert r.status_code == 422 and "oxygen_price" in r.json()["message_en"]
    _bilingual(r)


def test_cli_revalue(synth_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from typer.testing import CliRunner

    from qingshan.cli import app

    cfg_path, parent, url = synth_run
    r = CliRunner().invoke(app, ["revalue", parent.run_id, "--prices", str(_prices(cfg_path)), "--store", url, "--xlsx"])
    assert r.exit_code == 0, r.output
    assert "New run" in r.output and parent.run_id in r.output
    newest = repo.list_runs(open_store(url))[0]  # --xlsx: the workbook is built, sealed and in the manifest
    assert newest.parent_run_id == parent.run_id and "gep_accounts.xlsx" in {a["name"] for a in newest.artifacts}
    bad = _params(tmp_path / "p.csv", "sediment_deposition_ratio", 0.5, "1")
    r = CliRunner().invoke(app, ["revalue", parent.run_id, "--prices", str(_prices(cfg_path)), "--params", str(bad),
                                 "--store", url])
    assert r.exit_code == 2 and "sediment_deposition_ratio" in r.output and "qingshan account" in r.output and "Traceback" not in r.output


def test_roll_up_valued_equals_the_account_roll_up(synth_run) -> None:  # type: ignore[no-untyped-def]
    """The polygon-free roll-up revaluation uses is account's, to the last bit."""
    from qingshan.engine.config import load_config
    from qingshan.engine.run import _roll_up_valued, load_regions
    from qingshan.engine.valuation import roll_up_valued, value_rows
    from qingshan.valuation.prices import Deflator, PriceTable

    cfg_path, parent, _ = synth_run
    cfg = load_config(cfg_path)
    regions = load_regions(cfg)
    leaf = parent.results[parent.results["region_code"].isin(set(regions.leaves["code"]))]
    leaf = leaf[["region_code", "year", "indicator", "component", "ecosystem", "quantity", "unit"]]
    defl = Deflator.from_csv(cfg.tables.deflator)
    valued, _ = value_rows(leaf.reset_index(drop=True), prices=PriceTable.from_csv(cfg.tables.prices, deflator=defl),
                           regions=regions, base_year=2019, deflator=defl)
    pd.testing.assert_frame_equal(roll_up_valued(valued, regions.ancestors), _roll_up_valued(valued, regions),
                                  check_exact=True)


def test_api_revalued_run_keeps_four_eyes(api, synth_run) -> None:  # type: ignore[no-untyped-def]
    """The requester of a revaluation cannot approve the new run (it is recorded as their revalue job)."""
    client, headers, parent, _ = api
    prices = _prices(synth_run[0]).read_text(encoding="utf-8")
    child = client.post(f"/api/runs/{parent.run_id}/revalue", json={"prices_csv": prices}, headers=headers).json()
    r = client.post(f"/api/runs/{child['run']['id']}/approve", json={"acknowledge_qc": True}, headers=headers)
    assert r.status_code == 403 and "rv_accountant" in r.json()["message_en"]
    _bilingual(r)


def test_results_csv_writer_gives_pandas_bytes(tmp_path: Path) -> None:
    """The revaluation's results.csv writer (faster than ``DataFrame.to_csv``) writes the same bytes as pandas:
    floats of every kind, NaN, None, integers, Chinese text, commas and quotes in cells."""
    from qingshan.engine.revalue import write_csv

    rng = np.random.default_rng(0)
    floats = np.concatenate([rng.normal(0, 1e6, 200), rng.lognormal(0, 8, 200),
                             [0.0, -0.0, 1e16, 1e-5, 0.1, 1 / 3, 123456789.0, 2.5e-300, np.nan, 1e22, -7.0, 1e15]])
    n = len(floats)
    frame = pd.DataFrame({
        "region_code": [f"99{i:04d}" for i in range(n)],
        "region_name": ["合成县, \"甲\"" if i % 7 == 0 else f"县{i}" for i in range(n)],
        "year": np.arange(n, dtype=np.int64) + 2000,
        "quantity": floats,
        "price": np.where(np.arange(n) % 5 == 0, np.nan, floats[::-1]),
        "price_unit": [None if i % 11 == 0 else "元/m3" for i in range(n)],
        "flag": np.arange(n) % 2 == 0,
    })
    write_csv(frame, tmp_path / "ours.csv")
    frame.to_csv(tmp_path / "pandas.csv", index=False, encoding="utf-8-sig")
    assert (tmp_path / "ours.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()


def test_results_csv_and_stored_rows_are_those_of_the_frame_path(synth_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The revaluation converts its result frame once into column lists for results.csv and the store: the file
    is, to the byte, what ``account``'s writer (``_with_names`` + ``DataFrame.to_csv``) writes for the same
    frame — at the parent's prices, the parent's own results.csv — and the stored rows are the frame's."""
    from qingshan.engine.config import load_config
    from qingshan.engine.export import _with_names
    from qingshan.engine.run import load_regions

    cfg_path, parent, url = synth_run
    factory = open_store(url)
    same = revalue(url, parent.run_id, prices=_prices(cfg_path))
    parent_dir = artifact_dir(repo.get_run(factory, parent.run_id), find_data_dir(url))
    assert (same.artifacts_dir / "results.csv").read_bytes() == (parent_dir / "results.csv").read_bytes()
    out = revalue(url, parent.run_id, prices=_scaled_prices(_prices(cfg_path), tmp_path / "p.csv", "oxygen_price", 2.0))
    _with_names(out.results, load_regions(load_config(cfg_path))).to_csv(tmp_path / "frame.csv", index=False,
                                                                         encoding="utf-8-sig")
    assert (out.artifacts_dir / "results.csv").read_bytes() == (tmp_path / "frame.csv").read_bytes()
    stored = repo.read_results(factory, out.run_id).sort_values(KEYS).reset_index(drop=True)
    expected = out.results[repo.RESULT_COLUMNS].sort_values(KEYS).reset_index(drop=True)
    assert len(stored) == len(expected) > 0
    for col in repo.RESULT_COLUMNS:
        assert _same(stored[col].astype(expected[col].dtype), expected[col]), col


@pytest.fixture(params=["sqlite3", "core"])
def writer(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Which run writer ``revalue`` uses: ``sqlite3`` (an SQLite store at head, the default) or ``core`` (the
    generic SQLAlchemy Core writer, as for PostgreSQL), forced by refusing the SQLite one."""
    from qingshan.store.run_writer import SqliteRunWriter

    if request.param == "core":
        monkeypatch.setattr(SqliteRunWriter, "open", classmethod(lambda cls, url: None))
    return str(request.param)


def test_a_failure_half_way_through_storing_leaves_no_rows_and_no_folder(synth_run, writer: str,  # type: ignore[no-untyped-def]
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The last result row breaks a NOT NULL constraint after the others were inserted: the transaction is
    rolled back, the new run is recorded failed with the error, its sealed folder is removed, the parent is
    untouched — with either run writer."""
    import qingshan.store.repo as repo_module
    import qingshan.store.run_writer as writer_module
    from qingshan.store.rows import result_records

    def with_a_bad_row(results, run_id):  # type: ignore[no-untyped-def]
        records = result_records(results, run_id)
        return [*records, (run_id, *records[-1][1:7], None, *records[-1][8:])]  # quantity NULL

    monkeypatch.setattr(repo_module, "result_records", with_a_bad_row)
    monkeypatch.setattr(writer_module, "result_records", with_a_bad_row)
    cfg_path, parent, url = synth_run
    factory = open_store(url)
    before = {r.id for r in repo.list_runs(factory)}
    with pytest.raises(Exception, match=r"(?i)not null"):
        revalue(url, parent.run_id, prices=_prices(cfg_path))
    (new,) = [r for r in repo.list_runs(factory) if r.id not in before]
    assert new.status == "failed" and new.parent_run_id == parent.run_id and "NOT NULL" in new.error["message_en"]
    assert new.lease_holder is None and new.lease_expires_at is None and new.artifacts is None
    assert repo.read_results(factory, new.id).empty and repo.read_regions(factory, new.id).empty
    runs_dir = find_data_dir(url) / "runs"
    assert not (runs_dir / new.id).exists()
    assert not [p for p in runs_dir.iterdir() if p.name.startswith(".tmp")]
    assert repo.get_run(factory, parent.run_id).status == "succeeded"  # type: ignore[union-attr]


def test_both_run_writers_store_the_same_text(synth_run) -> None:  # type: ignore[no-untyped-def]
    """The SQLite writer (``sqlite3``, no SQLAlchemy) stores, column by column, the text and numbers the generic
    SQLAlchemy Core writer stores: the run record (JSON texts, timestamp format), its result rows and regions."""
    import re
    import sqlite3

    from qingshan.store.run_writer import CoreRunWriter, SqliteRunWriter, open_run_writer

    cfg_path, parent, url = synth_run
    assert isinstance(open_run_writer(url), SqliteRunWriter)
    fast = revalue(url, parent.run_id, prices=_prices(cfg_path), name="same")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(SqliteRunWriter, "open", classmethod(lambda cls, u: None))
        assert isinstance(open_run_writer(url), CoreRunWriter)
        core = revalue(url, parent.run_id, prices=_prices(cfg_path), name="same")
    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    cols = [r[1] for r in conn.execute("PRAGMA table_info(runs)")]
    a, b = (dict(zip(cols, conn.execute("SELECT * FROM runs WHERE id = ?", (i,)).fetchone(), strict=True))
            for i in (fast.run_id, core.run_id))
    timing = ("seconds", "started")
    for row in (a, b):
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", row.pop("created_at"))
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", row.pop("finished_at"))
        row["id"] = row["artifacts_dir"] = None
        prov = json.loads(row.pop("provenance"))
        assert not set(timing) - set(prov)
        row["provenance"] = {k: v for k, v in prov.items() if k not in timing}
        row["artifacts"] = [e for e in json.loads(row["artifacts"]) if e["name"] != "provenance.json"]
    assert a == b and a["status"] == "succeeded" and a["error"] is None and a["lease_holder"] is None
    for table, key in (("results", "id"), ("run_regions", "code")):
        rows = [conn.execute(f"SELECT * FROM {table} WHERE run_id = ? ORDER BY {key}", (i,)).fetchall()
                for i in (fast.run_id, core.run_id)]
        assert rows[0] and [r[2:] if table == "results" else r[1:] for r in rows[0]] == \
            [r[2:] if table == "results" else r[1:] for r in rows[1]], table


@pytest.mark.parametrize("kind", ["sqlite3", "core"])
def test_run_writer_lease_renewal(tmp_path: Path, kind: str) -> None:
    """A running run's lease is renewed by its holder only (stored as SQLAlchemy reads it back), and no longer
    once the run has failed."""
    from datetime import UTC, datetime, timedelta

    from qingshan.store.db import sqlite_url
    from qingshan.store.run_writer import CoreRunWriter, SqliteRunWriter

    url = sqlite_url(tmp_path / "s.sqlite")
    factory = open_store(url)  # creates the store at head
    store = SqliteRunWriter.open(url) if kind == "sqlite3" else CoreRunWriter.open(url)
    assert store is not None
    t0 = datetime(2026, 12, 1, 23, 0, 0, 123456, tzinfo=UTC)
    store.start_run(run_id="r", name="租约", profile="p", years=[2019], base_year=2019, config={"键": 1},
                    code_version="v", lease_holder="host:1", lease_expires_at=t0)
    assert repo.get_run(factory, "r").lease_expires_at == t0  # type: ignore[union-attr]
    later = t0 + timedelta(seconds=120, microseconds=1)
    assert store.renew_lease("r", "host:1", later) and not store.renew_lease("r", "host:2", t0)
    run = repo.get_run(factory, "r")
    assert run is not None and run.lease_expires_at == later and run.config == {"键": 1} and run.years == [2019]
    assert store.get_run("r").lease_expires_at == later and store.get_run("nope") is None
    store.finish_run_failed("r", {"error": "x"})
    assert not store.renew_lease("r", "host:1", later)
    run = repo.get_run(factory, "r")
    assert run is not None and (run.status, run.error, run.lease_holder) == ("failed", {"error": "x"}, None)


def test_revaluation_of_an_sqlite_store_imports_no_sqlalchemy(synth_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """``qingshan revalue`` on an SQLite store at head records its run through ``sqlite3``: neither SQLAlchemy
    nor its ORM is imported (about a tenth of the command's CPU time), nor geopandas; the run is recorded all the
    same (the generic writer, SQLAlchemy Core without the ORM, is compared with it above)."""
    import os
    import subprocess
    import sys

    cfg_path, parent, url = synth_run
    probe = ("import json, sys\nfrom qingshan.cli import main\n"
             f"sys.argv = ['qingshan', 'revalue', {parent.run_id!r}, '--prices', {str(_prices(cfg_path))!r}, "
             f"'--store', {url!r}]\n"
             "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
             "print('MODULES=' + json.dumps(sorted(sys.modules)))\n")
    before = {r.id for r in repo.list_runs(open_store(url))}
    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, timeout=300,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert res.returncode == 0, res.stderr
    mods = set(json.loads(next(x for x in res.stdout.splitlines() if x.startswith("MODULES=")).removeprefix("MODULES=")))
    assert "qingshan.engine.revalue" in mods and "qingshan.store.run_writer" in mods
    assert {"sqlalchemy", "qingshan.store.models", "geopandas"}.isdisjoint(mods), sorted(
        {"sqlalchemy", "qingshan.store.models", "geopandas"} & mods)
    (new,) = [r for r in repo.list_runs(open_store(url)) if r.id not in before]
    assert new.status == "succeeded" and new.parent_run_id == parent.run_id


def test_a_price_in_the_wrong_unit_is_refused_before_a_child_is_recorded(synth_run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The price bounds of ``account`` (attack-units) did not apply to revaluation, which is how a price change
    is applied: an oxygen price in 元/kg (1 000 元/t typed as 1) gave a revalued run with oxygen release ÷ 1 000."""
    from qingshan.core.errors import InputError

    cfg_path, parent, url = synth_run
    before = {r.id for r in repo.list_runs(open_store(url))}
    wrong = _scaled_prices(_prices(cfg_path), tmp_path / "prices.csv", "oxygen_price", 1e-3)
    with pytest.raises(InputError) as info:
        revalue(url, parent.run_id, prices=wrong)
    assert "oxygen_price" in info.value.en and info.value.zh and info.value.file
    assert {r.id for r in repo.list_runs(open_store(url))} == before  # no child recorded
