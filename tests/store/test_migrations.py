"""Alembic migrations on both backends: head from empty, idempotent, every step down and up again,
and the migrated schema equal to the ORM models (no drift between ``models.py`` and ``versions/``).

The tests walk whatever revisions exist (``ScriptDirectory``), so a new migration is covered
without editing this file.
"""

from __future__ import annotations

import importlib
import pkgutil
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

import qingshan.store
from qingshan.store import repo
from qingshan.store.db import migrate, open_store
from qingshan.store.models import Base

RESULTS_STORE_TABLES = {"runs", "results", "run_regions"}  # created by 0001_initial


def _config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("qingshan.store") / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config("sqlite://"))


def _revision_chain() -> list[str]:
    """Revision ids from the first to head."""
    return [r.revision for r in reversed(list(_script().walk_revisions("base", "heads")))]


def _current(url: str) -> str | None:
    eng = create_engine(url)
    try:
        with eng.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        eng.dispose()


def _tables(url: str) -> set[str]:
    eng = create_engine(url)
    try:
        return set(inspect(eng).get_table_names()) - {"alembic_version"}
    finally:
        eng.dispose()


def _all_model_modules() -> None:
    """Import every module of ``qingshan.store`` so that all models are on ``Base.metadata``."""
    for mod in pkgutil.walk_packages(qingshan.store.__path__, "qingshan.store."):
        if ".migrations" not in mod.name:
            importlib.import_module(mod.name)


def test_single_head() -> None:
    """The history is linear: one head, every revision reachable from base."""
    script = _script()
    assert len(script.get_heads()) == 1, script.get_heads()
    chain = _revision_chain()
    assert chain[0] == "0001"
    assert chain[-1] == script.get_current_head()


def test_upgrade_from_empty_reaches_head(store_url: str) -> None:
    assert _current(store_url) is None
    assert _tables(store_url) == set()
    migrate(store_url)
    assert _current(store_url) == _script().get_current_head()
    assert _tables(store_url) >= RESULTS_STORE_TABLES


def test_migrate_is_idempotent_and_keeps_data(store_url: str) -> None:
    factory = open_store(store_url)
    repo.start_run(factory, run_id="r1", name="幂等", profile="p", years=[2019], base_year=None,
                   config={}, code_version="test")
    before = _tables(store_url)
    migrate(store_url)
    open_store(store_url)
    assert _current(store_url) == _script().get_current_head()
    assert _tables(store_url) == before
    assert [r.id for r in repo.list_runs(factory)] == ["r1"]


def test_downgrade_to_base_and_upgrade_again(store_url: str) -> None:
    cfg = _config(store_url)
    command.upgrade(cfg, "head")
    command.downgrade(cfg, "base")
    assert _current(store_url) is None
    assert _tables(store_url) == set()
    command.upgrade(cfg, "head")
    assert _current(store_url) == _script().get_current_head()
    assert _tables(store_url) >= RESULTS_STORE_TABLES


def test_every_step_down_and_up(store_url: str) -> None:
    """Walk up one revision at a time, then down one at a time: each step lands where it says."""
    cfg = _config(store_url)
    chain = _revision_chain()
    for rev in chain:
        command.upgrade(cfg, "+1")
        assert _current(store_url) == rev
    for rev in reversed(chain[:-1]):
        command.downgrade(cfg, "-1")
        assert _current(store_url) == rev
    command.downgrade(cfg, "-1")
    assert _current(store_url) is None
    assert _tables(store_url) == set()


def test_migrated_schema_matches_models(store_url: str) -> None:
    """Autogenerate finds nothing to do: the migrations build exactly what the models declare."""
    _all_model_modules()
    migrate(store_url)
    eng = create_engine(store_url)
    try:
        with eng.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(ctx, Base.metadata)
    finally:
        eng.dispose()
    assert diff == []


def test_foreign_keys_cascade(store_url: str) -> None:
    """Deleting a run deletes its result and region rows (ON DELETE CASCADE; SQLite needs the pragma)."""
    import pandas as pd

    factory = open_store(store_url)
    repo.start_run(factory, run_id="r1", name="n", profile="p", years=[2019], base_year=None,
                   config={}, code_version="test")
    row = {"region_code": "360000", "year": 2019, "indicator": "i", "category": "regulating",
           "component": "c", "ecosystem": "forest", "quantity": 1.0, "unit": "t", "price": None,
           "price_unit": None, "value": None, "value_comparable": None}
    repo.finish_run_succeeded(factory, "r1", results=pd.DataFrame([row]),
                              regions=[{"code": "360000", "name": "江西省", "level": "province"}],
                              provenance={}, output_dir=None, content_hash="h")
    with factory.begin() as s:
        s.execute(text("DELETE FROM runs WHERE id = 'r1'"))
    assert repo.read_results(factory, "r1").empty
    assert repo.read_regions(factory, "r1").empty


def test_migrate_creates_sqlite_parent_directory(tmp_path: Path) -> None:
    """``migrate`` makes the SQLite file's folder (the embedded default must work on a fresh checkout)."""
    target = tmp_path / "new" / "deeper" / "q.sqlite"
    migrate(f"sqlite:///{target}")
    assert target.exists()
    assert _current(f"sqlite:///{target}") == _script().get_current_head()


def test_head_revision_without_alembic_is_alembics_head() -> None:
    """open_store skips Alembic for a store at the head revision; that head must be Alembic's own."""
    from qingshan.store.db import head_revision

    assert head_revision() == _script().get_current_head() == _revision_chain()[-1]


def test_a_store_behind_head_is_still_upgraded_and_one_at_head_skips_alembic(tmp_path: Path) -> None:
    """The fast path (no Alembic import) is taken only when the stored revision is the head: an older
    schema is upgraded by Alembic as before."""
    import os
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    migrate(url)
    chain = _revision_chain()
    command.downgrade(_config(url), chain[-2])
    assert _current(url) == chain[-2]
    migrate(url)
    assert _current(url) == chain[-1]
    probe = (f"import sys; from qingshan.store.db import open_store; open_store({url!r}); "
             "assert 'alembic' not in sys.modules, 'alembic imported for a store at head'")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert out.returncode == 0, out.stderr
