"""The embedded Jiangxi example stored in SQLite and in PostgreSQL reads back identically.

The example runs once per backend (module-scoped, about 6 s each); its results DataFrame as
returned by ``account()`` is the reference, and the two stores must both give it back exactly.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from pg_harness import BACKENDS, PgServer
from qingshan.engine.config import load_config
from qingshan.engine.run import account
from qingshan.store import repo
from qingshan.store.db import open_store, sqlite_url

KEYS = ["region_code", "year", "indicator", "component", "ecosystem"]
EXAMPLE = "jiangxi-2019.toml"

pytestmark = pytest.mark.slow


def _canon(df: pd.DataFrame) -> pd.DataFrame:
    out = df[repo.RESULT_COLUMNS].sort_values(KEYS, kind="stable").reset_index(drop=True)
    for c in ("quantity", "price", "value", "value_comparable"):
        out[c] = pd.to_numeric(out[c]).astype("float64")
    out["year"] = out["year"].astype("int64")
    for c in ("region_code", "indicator", "category", "component", "ecosystem", "unit", "price_unit"):
        out[c] = out[c].astype(object).where(out[c].notna(), None)
    return out


def _run_example(url: str, out: Path) -> SimpleNamespace:
    """Run the packaged example with its output under ``out``, its store at ``url`` and its artifacts
    beside (PostgreSQL needs an explicit data dir)."""
    cfg = load_config(Path(str(resources.files("qingshan.data") / "examples" / "jiangxi" / EXAMPLE)))
    cfg = cfg.model_copy(update={"run": cfg.run.model_copy(update={"output": out, "store": url,
                                                                   "data_dir": out.parent / "data"})})
    outcome = account(cfg, store_url=url)
    return SimpleNamespace(outcome=outcome, factory=open_store(url), url=url)


@pytest.fixture(scope="module")
def stored_sqlite(tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """The example stored in a new SQLite file."""
    tmp = tmp_path_factory.mktemp("example_sqlite")
    return _run_example(sqlite_url(tmp / "qingshan.sqlite"), tmp / "out")


@pytest.fixture(scope="module")
def stored_postgresql(pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """The example stored in a new database of the PostgreSQL test server."""
    url = pg_server.create_database()
    try:
        yield _run_example(url, tmp_path_factory.mktemp("example_pg") / "out")
    finally:
        pg_server.drop_database(url.rsplit("/", 1)[1])


@pytest.fixture(params=BACKENDS)
def stored(request: pytest.FixtureRequest) -> SimpleNamespace:
    """The example stored in the backend of the parameter."""
    stored: SimpleNamespace = request.getfixturevalue(f"stored_{request.param}")
    return stored


def test_example_results_read_back_exactly(stored: SimpleNamespace) -> None:
    got = repo.read_results(stored.factory, stored.outcome.run_id)
    expected = stored.outcome.results
    assert len(got) == len(expected) > 1000
    pd.testing.assert_frame_equal(_canon(got), _canon(expected), check_exact=True)


def test_example_run_record(stored: SimpleNamespace) -> None:
    run = repo.get_run(stored.factory, stored.outcome.run_id)
    assert run is not None
    assert (run.status, run.years, run.error) == ("succeeded", [2019], None)
    assert run.provenance == json.loads(json.dumps(stored.outcome.provenance))
    regions = repo.read_regions(stored.factory, stored.outcome.run_id)
    # Jiangxi: 1 province, 11 cities, 100 counties (the example's boundary file, see its README.md).
    assert regions["level"].value_counts().to_dict() == {"county": 100, "city": 11, "province": 1}
    assert "江西省" in set(regions["name"])


@pytest.mark.postgres
def test_sqlite_and_postgresql_give_the_same_dataframe(stored_sqlite: SimpleNamespace,
                                                       stored_postgresql: SimpleNamespace) -> None:
    a, b = stored_sqlite, stored_postgresql
    ra = _canon(repo.read_results(a.factory, a.outcome.run_id))
    rb = _canon(repo.read_results(b.factory, b.outcome.run_id))
    pd.testing.assert_frame_equal(ra, rb, check_exact=True)
    ga = repo.read_regions(a.factory, a.outcome.run_id, with_geometry=True).sort_values("code")
    gb = repo.read_regions(b.factory, b.outcome.run_id, with_geometry=True).sort_values("code")
    pd.testing.assert_frame_equal(ga.reset_index(drop=True), gb.reset_index(drop=True), check_exact=True)
