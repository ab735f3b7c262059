"""The response cache of public reads (qingshan.api.cache): what is served from it, and when not.

Each test builds its own store (a copy of the fixture store) so that publishing and withdrawing
here cannot disturb the shared session client.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from qingshan.api.app import create_app
from qingshan.api.settings import Settings
from qingshan.platform import jobs
from qingshan.platform.audit import Actor
from qingshan.store.db import open_store

RUN_ID = "00000000-0000-4000-8000-000000000001"  # the published run of tests/api/conftest.py
SUMMARY = f"/api/runs/{RUN_ID}/summary"


@pytest.fixture
def own(own_store: str) -> Iterator[tuple[TestClient, str]]:
    with TestClient(create_app(Settings(store_url=own_store))) as c:
        yield c, own_store


def test_second_anonymous_read_is_a_hit_with_the_same_body_and_etag(own: tuple[TestClient, str]) -> None:
    client, _ = own
    first = client.get(SUMMARY, params={"year": 2019})
    second = client.get(SUMMARY, params={"year": 2019})
    assert first.status_code == second.status_code == 200
    assert first.headers["x-qingshan-cache"] == "miss"
    assert second.headers["x-qingshan-cache"] == "hit"
    assert first.content == second.content
    assert first.headers["etag"] == second.headers["etag"]
    assert second.headers["cache-control"] == "public, no-cache"


def test_query_order_does_not_matter(own: tuple[TestClient, str]) -> None:
    client, _ = own
    a = client.get(f"/api/runs/{RUN_ID}/regions?year=2019&measure=value")
    b = client.get(f"/api/runs/{RUN_ID}/regions?measure=value&year=2019")
    assert a.status_code == 200
    assert b.headers.get("x-qingshan-cache") == "hit"
    assert a.json() == b.json()


def test_conditional_request_gets_304_without_body(own: tuple[TestClient, str]) -> None:
    client, _ = own
    etag = client.get(SUMMARY).headers["etag"]
    r = client.get(SUMMARY, headers={"If-None-Match": etag})
    assert r.status_code == 304
    assert r.content == b""
    other = client.get(SUMMARY, headers={"If-None-Match": '"not-it"'})
    assert other.status_code == 200
    assert other.json()["total_yi"] > 0


def test_withdrawn_run_is_no_longer_served_from_the_cache(own: tuple[TestClient, str]) -> None:
    client, url = own
    assert client.get(SUMMARY).status_code == 200
    assert client.get(SUMMARY).headers["x-qingshan-cache"] == "hit"
    jobs.set_publication(open_store(url), Actor("someone-else", "accountant"), RUN_ID, "withdraw")
    gone = client.get(SUMMARY)
    assert gone.status_code == 404  # the public sees published runs only
    assert "x-qingshan-cache" not in gone.headers
    listed = client.get("/api/runs").json()
    assert RUN_ID not in [r["id"] for r in listed]


def test_logged_in_requests_and_errors_bypass_the_cache(own: tuple[TestClient, str]) -> None:
    client, _ = own
    client.get(SUMMARY)
    staff = client.get(SUMMARY, headers={"Authorization": "Bearer not-a-real-token"})
    assert "x-qingshan-cache" not in staff.headers
    for _ in range(2):
        bad = client.get(SUMMARY, params={"year": 1900})
        assert bad.status_code == 404
        assert "x-qingshan-cache" not in bad.headers


def test_catalogue_reads_are_cached(own: tuple[TestClient, str]) -> None:
    client, _ = own
    a = client.get("/api/indicators")
    b = client.get("/api/indicators")
    assert a.status_code == 200
    assert b.headers["x-qingshan-cache"] == "hit"
    assert a.json() == b.json()


def test_head_of_a_cached_read_has_no_body(own: tuple[TestClient, str]) -> None:
    client, _ = own
    client.get("/api/indicators")
    r = client.head("/api/indicators")
    assert r.status_code == 200
    assert r.content == b""
    assert int(r.headers["content-length"]) > 0


def test_concurrent_misses_compute_once(own_store: str) -> None:
    """Twenty simultaneous first reads of one URL run its handler once (no thundering herd)."""
    from concurrent.futures import ThreadPoolExecutor

    from qingshan.api import deps

    calls = 0
    original = deps.RunView.results

    def counting(self: deps.RunView, **filters: object) -> object:
        nonlocal calls
        calls += 1
        return original(self, **filters)

    deps.RunView.results = counting  # type: ignore[method-assign]
    try:
        with TestClient(create_app(Settings(store_url=own_store))) as client:
            with ThreadPoolExecutor(20) as pool:
                answers = list(pool.map(lambda _: client.get(SUMMARY, params={"year": 2019}), range(20)))
            baseline = calls
            assert {r.status_code for r in answers} == {200}
            assert len({r.content for r in answers}) == 1
            assert sorted(r.headers["x-qingshan-cache"] for r in answers).count("miss") == 1
            client.get(SUMMARY, params={"year": 2018})  # another URL: one more computation
            assert calls > baseline
    finally:
        deps.RunView.results = original  # type: ignore[method-assign]


def test_a_withdrawal_by_another_process_reaches_the_cache_within_its_interval(own_store: str) -> None:
    """Another worker process withdraws (a plain UPDATE here: no in-process epoch bump): the cache serves the
    published answer at most ``published_cache_seconds`` longer, then refuses it like the handler does."""
    import time

    from sqlalchemy import create_engine, text

    with TestClient(create_app(Settings(store_url=own_store, published_cache_seconds=0.3))) as client:
        assert client.get(SUMMARY).status_code == 200
        eng = create_engine(own_store)
        with eng.begin() as conn:
            conn.execute(text("UPDATE run_publication SET state = 'approved' WHERE run_id = :r"), {"r": RUN_ID})
        eng.dispose()
        time.sleep(0.4)
        assert client.get(SUMMARY).status_code == 404
