"""Unit tests of the platform services: accounts, sessions, audit log, forms, submissions, jobs."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from platform_support import PASSWORD, fill_products
from sqlalchemy.orm import Session, sessionmaker

from qingshan.core.errors import InputError
from qingshan.indicators import registry
from qingshan.platform import accounts, audit, auth, jobs, submissions
from qingshan.platform.errors import AuthenticationError, PermissionDeniedError, StateError
from qingshan.platform.forms import (
    NOT_ON_FORMS,
    STATISTICS_ITEMS,
    build_template,
    form_groups,
    get_group,
    parse_form,
)
from qingshan.store.platform_models import AuditEntry

Factory = sessionmaker[Session]


# ----------------------------------------------------------------------------- accounts and sessions
def test_passwords_are_argon2_hashed_and_checked(factory: Factory) -> None:
    with factory() as s:
        h = s.scalar(sa.text("SELECT password_hash FROM users WHERE username='admin'"))
    assert h.startswith("$argon2id$") and PASSWORD not in h
    assert accounts.authenticate(factory, "admin", PASSWORD).role == "admin"
    with pytest.raises(AuthenticationError):
        accounts.authenticate(factory, "admin", "wrong password")
    with pytest.raises(AuthenticationError):
        accounts.authenticate(factory, "nobody", PASSWORD)
    with pytest.raises(InputError, match="too short"):
        accounts.create_user(factory, "x", "short", "viewer")
    with pytest.raises(InputError, match="Unknown role"):
        accounts.create_user(factory, "x", PASSWORD, "superuser")


@pytest.mark.parametrize(("code", "scope", "inside"), [
    ("360102", ["360100"], True),   # a county of Nanchang city
    ("360111", ["360100"], True),
    ("360202", ["360100"], False),  # a county of Jingdezhen
    ("360202", ["360000"], True),   # the province covers every county
    ("360102", ["360102"], True),
    ("360103", ["360102"], False),
    ("440103", ["*"], True),
    ("360102", [], False),
])
def test_region_scope_by_gbt2260_prefix(code: str, scope: list[str], inside: bool) -> None:
    assert accounts.in_region_scope(code, scope) is inside


def test_sessions_expire_and_logout_ends_them(factory: Factory) -> None:
    p, token = auth.login(factory, "viewer", PASSWORD)
    assert auth.resolve_session(factory, token) == p
    auth.logout(factory, token)
    assert auth.resolve_session(factory, token) is None
    _, old = auth.login(factory, "viewer", PASSWORD, hours=-1)
    assert auth.resolve_session(factory, old) is None
    with factory() as s:  # only the hash of the token is stored
        assert s.scalar(sa.text("SELECT count(*) FROM sessions WHERE token_sha256 = :t"), {"t": token}) == 0


def test_disabled_account_cannot_log_in_and_loses_its_sessions(factory: Factory) -> None:
    p, token = auth.login(factory, "viewer", PASSWORD)
    accounts.update_user(factory, p.id, actor=None, active=False)
    assert auth.resolve_session(factory, token) is None
    with pytest.raises(AuthenticationError):
        auth.login(factory, "viewer", PASSWORD)


def test_check_role_401_403() -> None:
    viewer = accounts.Principal(1, "v", "viewer")
    with pytest.raises(AuthenticationError):
        auth.check_role(None, ["viewer"])
    with pytest.raises(PermissionDeniedError):
        auth.check_role(viewer, ["accountant"])
    assert auth.check_role(accounts.Principal(2, "a", "admin"), ["accountant"]).role == "admin"


def test_login_sets_httponly_cookie(client: TestClient) -> None:
    r = client.post("/api/auth/login", json={"username": "reviewer", "password": PASSWORD})
    cookie = r.headers["set-cookie"]
    assert "qingshan_session=" in cookie and "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    assert client.get("/api/auth/me").json()["role"] == "reviewer"
    assert client.post("/api/auth/logout").status_code == 204
    assert client.get("/api/auth/me").status_code == 401
    bad = client.post("/api/auth/login", json={"username": "reviewer", "password": "nope nope"})
    assert bad.status_code == 401 and bad.json()["message_zh"]


def test_repeated_failed_logins_lock_the_account_for_a_while(client: TestClient) -> None:
    for _ in range(auth.MAX_FAILED_LOGINS):
        assert client.post("/api/auth/login", json={"username": "viewer", "password": "guess guess"}).status_code == 401
    locked = client.post("/api/auth/login", json={"username": "viewer", "password": PASSWORD})
    assert locked.status_code == 429  # even the right password, until the window passes
    assert locked.json()["message_zh"]
    other = client.post("/api/auth/login", json={"username": "reviewer", "password": PASSWORD})
    assert other.status_code == 200  # the lock is per account


# ----------------------------------------------------------------------------- audit log
def test_audit_log_is_append_only(factory: Factory, client: TestClient,
                                  auth: Callable[[str], dict[str, str]]) -> None:
    admin = auth("admin")
    lines = client.get("/api/audit", headers=admin).json()
    assert any(a["action"] == "auth.login" and a["actor"] == "admin" for a in lines)
    first = lines[-1]["id"]
    # no API changes a line …
    for method in ("PUT", "PATCH", "DELETE"):
        assert client.request(method, "/api/audit", headers=admin).status_code == 405
        assert client.request(method, f"/api/audit/{first}", headers=admin).status_code in (404, 405)
    # … and the ORM refuses to
    with pytest.raises(audit.AuditLogImmutableError), factory.begin() as s:
        s.get(AuditEntry, first).action = "forged"  # type: ignore[union-attr]
    with pytest.raises(audit.AuditLogImmutableError), factory.begin() as s:
        s.delete(s.get(AuditEntry, first))
    after = client.get("/api/audit", headers=admin).json()
    assert [a["action"] for a in after if a["id"] == first] == [lines[-1]["action"]]


def test_user_admin_endpoints_are_audited(client: TestClient, auth: Callable[[str], dict[str, str]]) -> None:
    admin = auth("admin")
    r = client.post("/api/users", headers=admin, json={"username": "dept-water", "password": PASSWORD,
                                                       "role": "submitter", "forms": ["water"], "regions": ["360000"]})
    assert r.status_code == 201
    uid = r.json()["id"]
    assert client.post("/api/users", headers=admin, json={"username": "dept-water", "password": PASSWORD,
                                                          "role": "viewer"}).status_code == 409
    assert client.patch(f"/api/users/{uid}", headers=admin, json={"role": "viewer"}).json()["role"] == "viewer"
    assert "password_hash" not in client.get("/api/users", headers=admin).text
    actions = [a["action"] for a in client.get("/api/audit", headers=admin, params={"object_type": "user"}).json()]
    assert "user.create" in actions and "user.update" in actions


# ----------------------------------------------------------------------------- forms
def test_groups_come_from_the_catalogue() -> None:
    reg = registry()
    groups = form_groups()
    assert list(groups) == ["products", "water", "emissions", "reservoirs", "tourism", "socioeconomic", "rasters"]
    table_indicators = {s.id for s in reg for m in s.methods if m.kind == "table" and m.id != "biomass_change"}
    covered = {i.indicator for g in groups.values() for i in g.items} | set(NOT_ON_FORMS)
    assert table_indicators <= covered  # every table method has a form (or is listed as not on one)
    for g in groups.values():
        for it in g.items:
            if it.indicator and it.component not in (None, "*"):
                reg.get(it.indicator).component(it.component)
    raster_inputs = {i for s in reg for m in s.methods if m.kind == "raster" for i in m.inputs}
    assert raster_inputs <= set(groups["rasters"].variables)


def test_statistics_items_are_read_by_their_indicator_method() -> None:
    """Each non-product item, fed alone to its indicator's table method, yields its component."""
    import pandas as pd

    from qingshan.engine.config import load_config
    from qingshan.engine.run import load_regions
    from qingshan.examples import example_config

    cfg = load_config(example_config())
    regions = load_regions(cfg)
    reg = registry()
    from qingshan.core.params import ParameterTable, ParamSet

    params = ParamSet(ParameterTable.from_csv(cfg.tables.parameters[0]), None, {})
    for item, (_g, _zh, _en, unit, ind, comp) in STATISTICS_ITEMS.items():
        if ind is None or comp is None or ind not in {x.id for x in reg}:
            continue
        stats = pd.DataFrame([{"region_code": "360102", "year": 2019, "item": item, "value": 2.0, "unit": unit,
                               "source": "t"}])
        declaring = [m for m in reg.get(ind).methods if item in m.statistics_items]
        fn = (declaring[0] if declaring else reg.get(ind).method()).load()
        out = fn(tables={"statistics": stats}, params=params, regions=regions, year=2019, indicator=ind)
        assert comp in set(out["component"]), item


def test_template_has_readme_validations_and_bilingual_headers() -> None:
    wb = load_workbook(io.BytesIO(build_template(get_group("water"), 2020, [("360102", "东湖区")])))
    assert wb.sheetnames == ["README", "data", "lists"]
    assert wb["README"]["B2"].value == "water" and wb["README"]["B3"].value == 2020
    data = wb["data"]
    assert data["A1"].value == "区划代码 *" and data["A2"].value == "region_code"
    assert data["D2"].value == "item"
    kinds = {dv.type for dv in data.data_validations.dataValidation}
    assert {"list", "whole", "decimal"} <= kinds
    items = [r[0] for r in wb["lists"].iter_rows(min_row=2, max_col=1, values_only=True) if r[0]]
    assert "water_use.domestic" in items and "hydropower_generation" in items
    raster = load_workbook(io.BytesIO(build_template(get_group("rasters"), 2020)))
    names = [r[0] for r in raster["rasters"].iter_rows(min_row=2, max_col=1, values_only=True)]
    assert "precip" in names and "lulc" in names


@pytest.mark.parametrize(("row", "column", "code"), [
    (["999999", None, 2019, "rice", 1, "t"], "A", "unknown_region"),
    (["360102", None, 2019, "rice", "a lot", "t"], "E", "not_numeric"),
    (["360102", None, 2019, "rice", 1, "斤斤"], "F", "bad_unit"),
    (["360102", None, 2019, "rice", 1, "m3"], "F", "bad_unit"),       # not convertible to t
    (["360102", None, 2019, "rice", -1, "t"], "E", "negative"),
    (["360102", None, 2019, "rice", None, "t"], "E", "missing"),
    (["360102", None, 2018, "rice", 1, "t"], "C", "year_mismatch"),
    (["360102", None, 2019, "durian", 1, "t"], "D", "unknown_item"),
    (["360102", None, 2019, "rice", 1, "t", "", -5, "元/t"], "H", "negative"),
    (["360102", None, 2019, "rice", 1, "t", "", 2400, None], "I", "missing"),
])
def test_each_bad_cell_is_named_in_both_languages(row: list, column: str, code: str) -> None:
    parsed = parse_form(fill_products([row]), get_group("products"), 2019, known_regions={"360102": "东湖区"})
    assert [(e["sheet"], e["row"], e["column"], e["code"]) for e in parsed.errors] == [("data", 3, column, code)]
    e = parsed.errors[0]
    assert f"第 3 行 {column} 列" in e["message_zh"] and f"row 3, column {column}" in e["message_en"]
    assert not parsed.statistics


def test_good_form_gives_statistics_and_price_rows() -> None:
    parsed = parse_form(fill_products([["360102", "东湖区", 2019, "rice", "1,234.5", "t", "survey", 2500, "元/t"],
                                       [360111, None, 2019.0, "tea", 3, "万t"]]), get_group("products"), 2019)
    assert parsed.ok
    assert parsed.statistics == [
        {"region_code": "360102", "year": 2019, "item": "rice", "value": 1234.5, "unit": "t", "source": "survey"},
        {"region_code": "360111", "year": 2019, "item": "tea", "value": 3.0, "unit": "万t", "source": ""},
    ]
    assert parsed.prices == [{"price_key": "product_price.rice", "value": 2500.0, "unit": "元/t", "price_year": 2019,
                              "region": "360102", "source": "survey"}]


def test_wrong_group_or_not_xlsx_is_refused() -> None:
    water = build_template(get_group("water"), 2019)
    with pytest.raises(InputError, match="group 'water'"):
        parse_form(water, get_group("products"), 2019)
    with pytest.raises(InputError, match="XLSX"):
        parse_form(b"not a workbook", get_group("products"), 2019)


@settings(deadline=None, max_examples=30)  # each example writes and reads an XLSX
@given(st.floats(min_value=0, max_value=1e12, allow_nan=False))
def test_any_non_negative_number_is_read_back(x: float) -> None:
    import math

    parsed = parse_form(fill_products([["360102", None, 2019, "rice", x, "t"]]), get_group("products"), 2019)
    # XLSX keeps 15 significant digits (as Excel does)
    assert parsed.ok and math.isclose(parsed.statistics[0]["value"], x, rel_tol=1e-14)


# ----------------------------------------------------------------------------- submissions
def _principal(factory: Factory, name: str) -> accounts.Principal:
    p, _ = auth.login(factory, name, PASSWORD)
    return p


def test_versions_are_kept_and_approved_ones_locked(factory: Factory) -> None:
    sub = _principal(factory, "submitter")
    rev = _principal(factory, "reviewer")
    good = fill_products([["360102", None, 2019, "rice", 1, "t"]])
    d1 = submissions.upload_form(factory, sub, "products", 2019, "a.xlsx", good)
    sid = d1["id"]
    submissions.submit(factory, sub, sid, 1)
    submissions.review(factory, rev, sid, 1, approve=True)
    for call in (lambda: submissions.submit(factory, sub, sid, 1),
                 lambda: submissions.review(factory, rev, sid, 1, approve=False)):
        with pytest.raises(StateError, match="locked"):
            call()
    d2 = submissions.upload_form(factory, sub, "products", 2019, "b.xlsx",
                                 fill_products([["360102", None, 2019, "rice", 2, "t"]]))
    assert [v["version"] for v in d2["versions"]] == [1, 2]
    assert [v["status"] for v in d2["versions"]] == ["approved", "draft"]
    data = submissions.approved_data(factory, [2019])
    assert [r["value"] for r in data.statistics] == [1.0]  # version 2 is not approved yet


def test_submitter_scope_is_enforced(factory: Factory) -> None:
    sub = _principal(factory, "submitter")  # products + rasters, Nanchang 3601xx
    with pytest.raises(PermissionDeniedError):
        submissions.upload_form(factory, sub, "water", 2019, "w.xlsx", build_template(get_group("water"), 2019))
    d = submissions.upload_form(factory, sub, "products", 2019, "p.xlsx",
                                fill_products([["360202", None, 2019, "rice", 1, "t"]]))
    assert [e["code"] for e in d["versions"][-1]["errors"]] == ["region_not_assigned"]
    assert submissions.list_submissions(factory, _principal(factory, "reviewer"))[0]["id"] == d["id"]


def test_raster_upload_is_checked_for_crs_and_range(factory: Factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    sub = _principal(factory, "submitter")

    def tif(values: np.ndarray, crs: str | None) -> bytes:
        path = tmp_path / "r.tif"
        with rasterio.open(path, "w", driver="GTiff", height=2, width=2, count=1, dtype="float32",
                           crs=crs, transform=from_origin(115, 29, 0.1, 0.1), nodata=-9999) as ds:
            ds.write(values.astype("float32"), 1)
        return path.read_bytes()

    ok = submissions.upload_raster(factory, sub, "precip", 2019, "p.tif", tif(np.full((2, 2), 1500.0), "EPSG:4326"))
    facts = ok["versions"][-1]
    assert facts["n_errors"] == 0
    no_crs = submissions.upload_raster(factory, sub, "precip", 2019, "p.tif", tif(np.full((2, 2), 1500.0), None))
    assert no_crs["versions"][-1]["errors"][0]["field"] == "crs"
    hot = submissions.upload_raster(factory, sub, "precip", 2019, "p.tif", tif(np.full((2, 2), 99999.0), "EPSG:4326"))
    err = hot["versions"][-1]["errors"][0]
    assert err["field"] == "precip" and "合理范围" in err["message_zh"]
    assert [v["version"] for v in hot["versions"]] == [1, 2, 3]


# ----------------------------------------------------------------------------- jobs
def _approved(factory: Factory) -> accounts.Principal:
    sub, rev = _principal(factory, "submitter"), _principal(factory, "reviewer")
    d = submissions.upload_form(factory, sub, "products", 2019, "a.xlsx",
                                fill_products([["360102", None, 2019, "rice", 0.9, "万t", "", 2600, "元/t"]]))
    submissions.submit(factory, sub, d["id"], 1)
    submissions.review(factory, rev, d["id"], 1, approve=True)
    return _principal(factory, "accountant")


def test_run_needs_approved_data(factory: Factory) -> None:
    with pytest.raises(StateError, match="No approved data"):
        jobs.request_run(factory, _principal(factory, "accountant"), profile="jiangxi-db36-2021", years=[2019],
                         base=jobs.EXAMPLE_BASE)


def test_claim_is_atomic(factory: Factory) -> None:
    acc = _approved(factory)
    job = jobs.request_run(factory, acc, profile="jiangxi-db36-2021", years=[2019], base=jobs.EXAMPLE_BASE)
    assert jobs.claim_next(factory, "w1") == job["id"]
    assert jobs.claim_next(factory, "w2") is None  # already running: nobody else gets it
    got = jobs.get_job(factory, job["id"])
    assert (got["status"], got["worker"]) == ("running", "w1")


def test_jobs_of_dead_workers_are_requeued_and_live_ones_kept(factory: Factory) -> None:
    import os
    import socket
    import subprocess
    import sys

    acc = _approved(factory)
    dead_proc = subprocess.Popen([sys.executable, "-c", "pass"])
    dead_proc.wait()  # a pid that existed and is gone
    host = socket.gethostname()
    dead = jobs.request_run(factory, acc, profile="jiangxi-db36-2021", years=[2019], base=jobs.EXAMPLE_BASE)
    assert jobs.claim_next(factory, f"{host}:{dead_proc.pid}") == dead["id"]
    alive = jobs.request_run(factory, acc, profile="jiangxi-db36-2021", years=[2019], base=jobs.EXAMPLE_BASE)
    assert jobs.claim_next(factory, f"{host}:{os.getpid()}") == alive["id"]
    assert jobs.requeue_orphans(factory) == [dead["id"]]
    assert jobs.get_job(factory, dead["id"])["status"] == "queued"
    assert jobs.get_job(factory, alive["id"])["status"] == "running"
    assert jobs.requeue_orphans(factory) == []


def test_config_merges_approved_rows_over_the_base(factory: Factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd

    acc = _approved(factory)
    job = jobs.request_run(factory, acc, profile="jiangxi-db36-2021", years=[2019], base=jobs.EXAMPLE_BASE)
    cfg = jobs.build_config(factory, job, tmp_path / "w")
    stats = pd.read_csv(cfg.tables.statistics, dtype={"region_code": str})
    rice = stats[(stats["item"] == "rice")]
    assert len(rice) == 100  # the example's 100 counties, one replaced
    assert rice.loc[rice["region_code"] == "360102", "value"].tolist() == [0.9]
    prices = pd.read_csv(cfg.tables.prices, dtype={"region": str})
    mine = prices[(prices["price_key"] == "product_price.rice") & (prices["region"] == "360102")]
    assert mine["value"].tolist() == [2600]
    assert cfg.run.output == tmp_path / "w" / "out" and cfg.run.store is None


def test_publication_needs_a_succeeded_run(factory: Factory) -> None:
    from qingshan.platform.errors import NotFoundError
    from qingshan.store import repo

    with pytest.raises(NotFoundError):
        jobs.set_publication(factory, audit.Actor("a"), "nope", "approve")
    repo.start_run(factory, run_id="r1", name="x", profile="p", years=[2019], base_year=None, config={},
                   code_version="t")
    with pytest.raises(StateError, match="running"):
        jobs.set_publication(factory, audit.Actor("a"), "r1", "approve")


def test_migration_downgrades_and_upgrades(store_url: str) -> None:
    from alembic import command

    from qingshan.store.db import _alembic_config

    cfg = _alembic_config(store_url)
    command.downgrade(cfg, "0001")
    insp = sa.inspect(sa.create_engine(store_url))
    assert "users" not in insp.get_table_names() and "runs" in insp.get_table_names()
    command.upgrade(cfg, "head")
    names = set(sa.inspect(sa.create_engine(store_url)).get_table_names())
    assert {"users", "sessions", "audit_log", "uploads", "form_submissions", "submission_versions", "jobs",
            "run_publication"} <= names


def test_base_is_explicit_and_known(factory: Factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """No hidden base: the request names it; an unknown name is refused naming the known ones; the
    example base is recorded as such, a registered config by its name."""
    import shutil
    from pathlib import Path

    from qingshan.core.errors import InputError

    acc = _approved(factory)
    with pytest.raises(InputError) as exc:
        jobs.request_run(factory, acc, profile="jiangxi-db36-2021", years=[2019], base="/etc/other.toml")
    assert exc.value.field == "base" and jobs.EXAMPLE_BASE in exc.value.fix
    job = jobs.request_run(factory, acc, profile="jiangxi-db36-2021", years=[2019], base=jobs.EXAMPLE_BASE)
    assert (job["params"]["base"], job["params"]["example"]) == (jobs.EXAMPLE_BASE, True)
    example = Path(jobs.default_base_config()).parent
    mine = tmp_path / "mine" / "examples" / "jiangxi"
    shutil.copytree(example, mine)
    shutil.copytree(example.parents[1] / "tables", tmp_path / "mine" / "tables")
    cfg = mine / "jiangxi-2019.toml"
    cfg2 = mine / "province.toml"
    shutil.copy(cfg, cfg2)
    job = jobs.request_run(factory, acc, profile="jiangxi-db36-2021", years=[2019], base="config:province",
                           registered_bases=[str(cfg2)])
    assert (job["params"]["base"], job["params"]["base_config"], job["params"]["example"]) == \
        ("config:province", str(cfg2), False)
    assert jobs.build_config(factory, job, tmp_path / "w").regions.file == (mine / "jiangxi_county_tianditu.geojson").resolve()


def test_jobs_of_dead_workers_on_other_hosts_are_requeued_by_lease_expiry(factory: Factory) -> None:
    """A worker of another host cannot be checked: its job is requeued once its lease has expired, not before."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from qingshan.store.platform_models import Job

    acc = _approved(factory)
    gone = jobs.request_run(factory, acc, profile="jiangxi-db36-2021", years=[2019], base=jobs.EXAMPLE_BASE)
    assert jobs.claim_next(factory, "other-host:41") == gone["id"]
    busy = jobs.request_run(factory, acc, profile="jiangxi-db36-2021", years=[2019], base=jobs.EXAMPLE_BASE)
    assert jobs.claim_next(factory, "other-host:42") == busy["id"]
    assert jobs.requeue_orphans(factory) == []  # both leases are fresh (taken at claim)
    with factory.begin() as s:
        s.execute(update(Job).where(Job.id == gone["id"])
                  .values(lease_expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    assert jobs.requeue_orphans(factory) == [gone["id"]]
    assert jobs.get_job(factory, gone["id"])["status"] == "queued"
    assert jobs.get_job(factory, busy["id"])["status"] == "running"


def test_job_lease_is_renewed_by_its_worker_only(factory: Factory) -> None:
    from qingshan.store.platform_models import Job

    acc = _approved(factory)
    job = jobs.request_run(factory, acc, profile="jiangxi-db36-2021", years=[2019], base=jobs.EXAMPLE_BASE)
    jobs.claim_next(factory, "host-a:1")
    with factory() as s:
        first = s.get(Job, job["id"]).lease_expires_at  # type: ignore[union-attr]
    assert first is not None
    assert jobs._renew_job_lease(factory, job["id"], "host-a:1")()
    assert not jobs._renew_job_lease(factory, job["id"], "host-b:2")()  # not its worker
    with factory() as s:
        assert s.get(Job, job["id"]).lease_expires_at >= first  # type: ignore[union-attr,operator]
