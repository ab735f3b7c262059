"""The repository contract (``qingshan.store.repo``), identical on SQLite and PostgreSQL.

Exact round-trips (floats bit for bit, NULLs, Chinese text, JSON), the status life cycle of a run,
atomicity of ``finish_run_succeeded``, and two threads writing different runs at the same time.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from qingshan.core.errors import InputError, QingshanError
from qingshan.store import repo
from qingshan.store.db import open_engine, open_store

KEYS = ["region_code", "year", "indicator", "component", "ecosystem"]
FLOAT_COLUMNS = ["quantity", "price", "value", "value_comparable"]

# Floats that a lossy path (text with too few digits, float4, decimal rounding) would change.
EDGE_FLOATS = [
    0.1 + 0.2,  # 0.30000000000000004: needs 17 significant digits
    1 / 3,
    2.0 ** -1074,  # smallest subnormal double, 4.9e-324
    2.2250738585072014e-308,  # smallest normal double
    1.7976931348623157e308,  # largest double
    123456789.12345679,
    -2.5,
    0.0,
]


def _start(factory: sessionmaker[Session], run_id: str, **kw: object) -> None:
    args: dict[str, object] = {"name": f"测试 {run_id}", "profile": "jiangxi-db36-2021", "years": [2019],
                               "base_year": 2019, "config": {}, "code_version": "test"}
    args.update(kw)
    repo.start_run(factory, run_id=run_id, **args)  # type: ignore[arg-type]


def _rows(n: int, seed: int, *, region: str = "360102") -> pd.DataFrame:
    """``n`` result rows; every third row has no price (NULL price, price_unit, value, comparable)."""
    rng = np.random.default_rng(seed)
    q = rng.uniform(0, 1e9, n)
    priced = np.arange(n) % 3 != 0
    price = np.where(priced, rng.uniform(0.01, 1e4, n), np.nan)
    return pd.DataFrame({
        "region_code": region, "year": 2019, "indicator": "water_conservation", "category": "regulating",
        "component": [f"组分_{i:05d}" for i in range(n)], "ecosystem": "forest", "quantity": q, "unit": "m3",
        "price": price, "price_unit": ["CNY m3-1" if p else None for p in priced], "value": q * price,
        "value_comparable": q * price * 0.95,
    })[repo.RESULT_COLUMNS]


def _canon(df: pd.DataFrame) -> pd.DataFrame:
    """Rows in key order, floats as float64 (NULL → NaN), everything else as Python objects."""
    out = df[repo.RESULT_COLUMNS].sort_values(KEYS, kind="stable").reset_index(drop=True)
    for c in FLOAT_COLUMNS:
        out[c] = pd.to_numeric(out[c]).astype("float64")
    out["year"] = out["year"].astype("int64")
    for c in ("price_unit",):
        out[c] = out[c].astype(object).where(out[c].notna(), None)
    return out


def _assert_same_results(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(_canon(got), _canon(expected), check_exact=True)


def _succeed(factory: sessionmaker[Session], run_id: str, results: pd.DataFrame,
             regions: Sequence[Mapping[str, object]] | None = None, provenance: dict[str, object] | None = None) -> None:
    repo.finish_run_succeeded(factory, run_id, results=results,
                              regions=regions or [{"code": "360102", "name": "东湖区", "level": "county"}],
                              provenance=provenance or {}, output_dir="/tmp/出口", content_hash="a" * 64)


# ----------------------------------------------------------------------------- round trips
def test_results_round_trip_exactly(store_url: str) -> None:
    factory = open_store(store_url)
    rows = _rows(len(EDGE_FLOATS), seed=1)
    rows["quantity"] = EDGE_FLOATS
    rows["component"] = ["稻谷", "水源涵养量", "固碳 CO₂", "🌲 forest", "a'b\"c", "x" * 80, "空", "零"]
    rows["unit"] = ["t", "m3", "tCO2", "万元", "亩", "人次", "亿元", "元"]
    _start(factory, "r1")
    _succeed(factory, "r1", rows)
    got = repo.read_results(factory, "r1")
    _assert_same_results(got, rows)
    # Bit-for-bit, not just equal: compare the raw IEEE-754 bytes of the quantities.
    back = _canon(got).set_index("component")["quantity"]
    for comp, q in zip(rows["component"], EDGE_FLOATS, strict=True):
        assert np.float64(back[comp]).tobytes() == np.float64(q).tobytes(), comp
    # NULLs stay NULL: the first row has no price, so no value either (every third row, _rows).
    first = _canon(got).set_index("component").loc["稻谷"]
    assert pd.isna(first["price"]) and pd.isna(first["price_unit"]) and pd.isna(first["value"])


def test_read_results_filters(store_url: str) -> None:
    factory = open_store(store_url)
    a, b = _rows(4, seed=2, region="360102"), _rows(3, seed=3, region="360103")
    b["year"] = 2020
    _start(factory, "r1", years=[2019, 2020])
    _succeed(factory, "r1", pd.concat([a, b], ignore_index=True))
    assert len(repo.read_results(factory, "r1")) == 7
    _assert_same_results(repo.read_results(factory, "r1", region_code="360103"), b)
    _assert_same_results(repo.read_results(factory, "r1", year=2019), a)
    assert repo.read_results(factory, "r1", region_code="360103", year=2019).empty
    # None means "no filter", not "IS NULL".
    assert len(repo.read_results(factory, "r1", year=None, indicator=None)) == 7


def test_run_metadata_and_json_round_trip(store_url: str) -> None:
    factory = open_store(store_url)
    config = {"run": {"name": "江西省 2019", "years": [2019, 2020]}, "ratio": 0.1 + 0.2, "big": 2 ** 53,
              "flag": True, "none": None, "nested": [{"键": "值"}, [1, 2.5, "三"]]}
    provenance = {"tables": {"prices_default.csv": "sha256:" + "0" * 64}, "prices": [
        {"component": "稻谷", "price": 2.8, "unit": "元/千克", "source": "国家发改委《全国农产品成本收益资料汇编》"}],
        "elapsed_s": 6.25}
    t0 = datetime.now(UTC)
    _start(factory, "r1", name="江西省 2019 示例核算", years=[2019, 2020], base_year=None, config=config)
    _succeed(factory, "r1", _rows(2, seed=4), provenance=provenance)
    run = repo.get_run(factory, "r1")
    assert run is not None
    assert (run.name, run.status, run.profile, run.years, run.base_year) == (
        "江西省 2019 示例核算", "succeeded", "jiangxi-db36-2021", [2019, 2020], None)
    assert run.config == config
    assert json.dumps(run.config, sort_keys=True) == json.dumps(config, sort_keys=True)
    assert run.provenance == provenance
    assert (run.output_dir, run.content_hash, run.code_version, run.error) == ("/tmp/出口", "a" * 64, "test", None)
    assert run.finished_at is not None
    created = run.created_at if run.created_at.tzinfo else run.created_at.replace(tzinfo=UTC)
    finished = run.finished_at if run.finished_at.tzinfo else run.finished_at.replace(tzinfo=UTC)
    assert t0 - timedelta(seconds=1) <= created <= finished <= datetime.now(UTC) + timedelta(seconds=1)


def test_timestamps_come_back_timezone_aware(store_url: str, backend: str, request: pytest.FixtureRequest) -> None:
    """``DateTime(timezone=True)`` should give aware UTC datetimes on every backend."""
    factory = open_store(store_url)
    _start(factory, "r1")
    run = repo.get_run(factory, "r1")
    assert run is not None
    assert run.created_at.tzinfo is not None
    assert run.created_at.utcoffset() == timedelta(0)


def test_regions_round_trip(store_url: str) -> None:
    factory = open_store(store_url)
    ring = [[115 + i / 1000, 28 + (i % 7) / 100] for i in range(2000)]
    geometry = json.dumps({"type": "Polygon", "coordinates": [[*ring, ring[0]]]})  # ~40 kB of text
    regions: list[dict[str, object]] = [
        {"code": "360000", "name": "江西省", "level": "province", "parent": None, "area_km2": 166900.0,
         "geometry": geometry},
        {"code": "360100", "name": "南昌市", "level": "city", "parent": "360000", "area_km2": 1 / 3,
         "geometry": None},
        {"code": "360102", "name": "东湖区", "level": "county", "parent": "360100", "area_km2": None},
    ]
    _start(factory, "r1")
    _succeed(factory, "r1", _rows(1, seed=5), regions=regions)
    got = repo.read_regions(factory, "r1", with_geometry=True).sort_values("code").reset_index(drop=True)
    assert list(got.columns) == ["code", "name", "level", "parent", "area_km2", "geometry"]
    assert got["name"].tolist() == ["江西省", "南昌市", "东湖区"]
    assert pd.isna(got["parent"].iloc[0]) and got["parent"].tolist()[1:] == ["360000", "360100"]
    assert got["area_km2"].tolist()[:2] == [166900.0, 1 / 3] and pd.isna(got["area_km2"].iloc[2])
    assert got["geometry"].iloc[0] == geometry and got["geometry"].iloc[1:].isna().all()
    assert list(repo.read_regions(factory, "r1").columns) == ["code", "name", "level", "parent", "area_km2"]


# ----------------------------------------------------------------------------- life cycle
def test_list_runs_newest_first_and_by_status(store_url: str) -> None:
    factory = open_store(store_url)
    for rid in ("a", "b", "c"):
        _start(factory, rid)
    _succeed(factory, "a", _rows(1, seed=6))
    repo.finish_run_failed(factory, "b", {"error": "input_error", "message_en": "bad", "message_zh": "错误"})
    runs = repo.list_runs(factory)
    assert {r.id for r in runs} == {"a", "b", "c"}
    created = [r.created_at for r in runs]
    assert created == sorted(created, reverse=True)
    assert [r.id for r in repo.list_runs(factory, status="succeeded")] == ["a"]
    assert [r.id for r in repo.list_runs(factory, status="failed")] == ["b"]
    assert [r.id for r in repo.list_runs(factory, status="running")] == ["c"]
    assert repo.list_runs(factory, status="unknown") == []
    assert repo.get_run(factory, "nope") is None


def test_failed_run_keeps_no_result_rows(store_url: str) -> None:
    factory = open_store(store_url)
    error = {"error": "input_error", "message_en": "Column 'price' is missing", "message_zh": "缺少 'price' 列",
             "file": "prices.csv", "field": "price", "fix": "Add it.", "fix_zh": "请补上。"}
    _start(factory, "failed")
    repo.finish_run_failed(factory, "failed", error)
    run = repo.get_run(factory, "failed")
    assert run is not None
    assert (run.status, run.error) == ("failed", error)
    assert run.finished_at is not None
    assert repo.read_results(factory, "failed").empty


def test_failing_a_finished_run_changes_nothing(store_url: str) -> None:
    """A succeeded run is never turned failed nor loses its rows (it did: an error after the commit — every export
    is written before it now — marked a committed, possibly published, run failed and deleted its rows)."""
    factory = open_store(store_url)
    keep, done = _rows(5, seed=7), _rows(6, seed=8)
    _start(factory, "keep")
    _start(factory, "done")
    _succeed(factory, "keep", keep)
    _succeed(factory, "done", done)
    assert repo.finish_run_failed(factory, "done", {"error": "RuntimeError", "message_en": "export failed"}) is False
    run = repo.get_run(factory, "done")
    assert run is not None and (run.status, run.error) == ("succeeded", None)
    _assert_same_results(repo.read_results(factory, "done"), done)
    _assert_same_results(repo.read_results(factory, "keep"), keep)


def test_finish_failed_of_unknown_run_is_a_no_op(store_url: str) -> None:
    factory = open_store(store_url)
    repo.finish_run_failed(factory, "ghost", {"error": "x"})
    assert repo.list_runs(factory) == []


def test_finish_succeeded_is_atomic(store_url: str) -> None:
    """A failure while writing (here: two regions with one code) leaves no result rows and the run running."""
    factory = open_store(store_url)
    _start(factory, "r1")
    twice = [{"code": "360102", "name": "东湖区", "level": "county"}] * 2
    with pytest.raises(IntegrityError):
        _succeed(factory, "r1", _rows(10, seed=9), regions=twice)
    assert repo.read_results(factory, "r1").empty
    assert repo.read_regions(factory, "r1").empty
    assert repo.get_run(factory, "r1").status == "running"  # type: ignore[union-attr]


def test_run_with_no_result_rows_can_succeed(store_url: str) -> None:
    factory = open_store(store_url)
    _start(factory, "empty")
    repo.finish_run_succeeded(factory, "empty", results=pd.DataFrame(columns=repo.RESULT_COLUMNS), regions=[],
                              provenance={}, output_dir=None, content_hash="0" * 64)
    assert repo.get_run(factory, "empty").status == "succeeded"  # type: ignore[union-attr]
    assert repo.read_results(factory, "empty").empty


def test_core_writers_on_an_engine_store_what_the_session_path_stores(store_url: str) -> None:
    """``qingshan revalue`` records its run through an engine (SQLAlchemy Core, no ORM) and gives the result
    rows as column lists (``column_values``): the same rows, run record, JSON and regions as a session
    factory and a frame give; a run no longer running is refused and keeps no rows."""
    factory, engine = open_store(store_url), open_engine(store_url)
    rows = _rows(40, seed=21)
    rows.loc[: len(EDGE_FLOATS) - 1, "quantity"] = EDGE_FLOATS
    regions: list[dict[str, object]] = [
        {"code": "360100", "name": "南昌市", "level": "city", "parent": None, "area_km2": 1 / 3, "geometry": None},
        {"code": "360102", "name": "东湖区", "level": "county", "parent": "360100", "area_km2": None,
         "geometry": '{"type": "Point", "coordinates": [115.9, 28.7]}'},
    ]
    done = {"provenance": {"键": [1, 2.5, None], "ratio": 0.1 + 0.2}, "output_dir": "/tmp/出口",
            "content_hash": "b" * 64, "artifacts_dir": "runs/x", "artifacts": [{"name": "results.csv", "size": 1}]}
    _start(factory, "session", parent_run_id="p")
    repo.finish_run_succeeded(factory, "session", results=rows, regions=regions, **done)  # type: ignore[arg-type]
    _start(engine, "engine", parent_run_id="p")  # type: ignore[arg-type]
    repo.finish_run_succeeded(engine, "engine", results=repo.column_values(rows), regions=regions,  # type: ignore[arg-type]
                              **done)
    _assert_same_results(repo.read_results(factory, "engine"), rows)
    _assert_same_results(repo.read_results(factory, "engine"), repo.read_results(factory, "session"))
    orm, core = repo.get_run(factory, "session"), repo.get_run_row(engine, "engine")
    assert orm is not None and core is not None
    same = ["status", "profile", "years", "base_year", "config", "provenance", "error", "output_dir", "content_hash",
            "artifacts_dir", "artifacts", "lease_holder", "lease_expires_at", "code_version", "parent_run_id"]
    assert {c: getattr(core, c) for c in same} == {c: getattr(orm, c) for c in same}
    assert (core.status, core.provenance, core.artifacts, core.lease_holder) == (
        "succeeded", done["provenance"], done["artifacts"], None)
    assert core.finished_at is not None and core.finished_at.utcoffset() == timedelta(0)
    assert repo.region_records(engine, "engine", with_geometry=True) == \
        repo.region_records(factory, "session", with_geometry=True) == [{**r, "geometry": r.get("geometry")}
                                                                       for r in regions]
    assert repo.get_run_row(engine, "nope") is None
    _start(engine, "lost")  # type: ignore[arg-type]
    repo.finish_run_failed(engine, "lost", {"error": "abandoned"})  # type: ignore[arg-type]
    with pytest.raises(QingshanError) as info:
        repo.finish_run_succeeded(engine, "lost", results=repo.column_values(rows), regions=regions,  # type: ignore[arg-type]
                                  **done)
    assert "failed" in info.value.en and info.value.field == "run_id"
    assert repo.read_results(factory, "lost").empty and repo.read_regions(factory, "lost").empty
    assert repo.get_run(factory, "lost").status == "failed"  # type: ignore[union-attr]


# ----------------------------------------------------------------------------- concurrency
def test_concurrent_writers_do_not_corrupt_each_other(store_url: str) -> None:
    """Two threads finish two runs at the same moment (a barrier releases both), three times over."""
    factory = open_store(store_url)
    n_rows = 3000
    errors: list[BaseException] = []
    expected: dict[str, pd.DataFrame] = {}
    for round_ in range(3):
        ids = [f"r{round_}a", f"r{round_}b"]
        frames = [_rows(n_rows, seed=100 + 2 * round_ + k, region=f"36010{k + 2}") for k in range(2)]
        for rid in ids:
            _start(factory, rid)
        barrier = threading.Barrier(2)

        def write(rid: str, frame: pd.DataFrame, code: str, barrier: threading.Barrier) -> None:
            try:
                barrier.wait(timeout=30)
                _succeed(factory, rid, frame, regions=[{"code": code, "name": "区", "level": "county"}])
            except BaseException as exc:  # collected and re-raised in the main thread
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(rid, fr, fr["region_code"].iloc[0], barrier))
                   for rid, fr in zip(ids, frames, strict=True)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not errors, errors
        expected.update(zip(ids, frames, strict=True))
    for rid, frame in expected.items():
        _assert_same_results(repo.read_results(factory, rid), frame)
        assert repo.get_run(factory, rid).status == "succeeded"  # type: ignore[union-attr]
    assert sum(len(repo.read_results(factory, rid)) for rid in expected) == 6 * n_rows


# ----------------------------------------------------------------------------- property: any value round-trips
_TEXT = st.text(alphabet=st.sampled_from("江西省南昌市水源涵养土壤保持固碳生态产品总值abcXYZ0123456789 -_/()·'\"%"),
                min_size=1, max_size=40)
_FINITE = st.floats(allow_nan=False, allow_infinity=False)


_FACTORIES: dict[str, sessionmaker[Session]] = {}


def _opened(url: str) -> sessionmaker[Session]:
    """``open_store`` once per URL (migrating on every Hypothesis example would dominate the run time)."""
    if url not in _FACTORIES:
        _FACTORIES[url] = open_store(url)
    return _FACTORIES[url]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_finite_values_round_trip(store_url: str, data: st.DataObject) -> None:
    """Any finite doubles and any text of the catalogue's alphabet come back unchanged.

    (The database is shared by the examples; each example writes its own run.)
    """
    factory = _opened(store_url)
    n = data.draw(st.integers(1, 5))
    q = data.draw(st.lists(_FINITE, min_size=n, max_size=n))
    p = data.draw(st.lists(st.none() | _FINITE, min_size=n, max_size=n))
    comps = data.draw(st.lists(_TEXT, min_size=n, max_size=n, unique=True))
    rows = _rows(n, seed=0)
    rows["quantity"], rows["price"], rows["value"], rows["component"] = q, p, p, comps
    rid = str(uuid.uuid4())  # not drawn: Hypothesis replays draws, and the database outlives an example
    _start(factory, rid, name=data.draw(_TEXT))
    _succeed(factory, rid, rows)
    got = _canon(repo.read_results(factory, rid))
    exp = _canon(rows)
    assert got["component"].tolist() == exp["component"].tolist()
    for col in ("quantity", "price", "value"):
        assert np.array_equal(got[col].to_numpy(), exp[col].to_numpy(), equal_nan=True), col


# ----------------------------------------------------------------------------- length limits
def test_over_long_text_is_rejected(store_url: str, backend: str, request: pytest.FixtureRequest) -> None:
    """``results.component`` is VARCHAR(80): an 81-character component is refused on every backend."""
    factory = open_store(store_url)
    rows = _rows(1, seed=11)
    rows["component"] = "长" * 81
    _start(factory, "r1")
    with pytest.raises(InputError) as info:
        _succeed(factory, "r1", rows)
    assert info.value.field == "component"
    assert info.value.zh
    assert repo.read_results(factory, "r1").empty


def test_row_constants_are_the_tables() -> None:
    """``store.rows`` (shared with the SQLite run writer, which imports no SQLAlchemy) repeats the tables'
    columns and text lengths: they must be those of ``store.tables``."""
    from sqlalchemy import String

    from qingshan.store import rows, tables

    for name, table in (("results", tables.results), ("run_regions", tables.run_regions)):
        limits = {c.name: c.type.length for c in table.columns if isinstance(c.type, String) and c.type.length}
        if name == "results":
            del limits["run_id"]  # the run's own id, not checked per row
        assert rows.TEXT_LIMITS[name] == limits, name
    assert ["id", "run_id", *rows.RESULT_COLUMNS] == list(tables.results.columns.keys())
    assert ["run_id", *rows.REGION_COLUMNS, "geometry"] == list(tables.run_regions.columns.keys())
