"""Fixtures for engine tests: a private copy of the embedded Jiangxi example and config writers.

``example_dir`` copies ``src/qingshan/data/examples/jiangxi`` and ``src/qingshan/data/tables`` into
a temporary tree with the same relative layout (the example config refers to ``../../tables/…``).
``write_config(dir, **overrides)`` writes a modified copy of ``jiangxi-2019.toml`` into ``dir`` with
every path made absolute, the output set to ``dir/out`` and the store to ``dir/store.sqlite``.
``example_run`` runs the example once per test module.
"""

from __future__ import annotations

import shutil
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import qingshan

DATA = Path(qingshan.__file__).parent / "data"
EXAMPLE_NAME = "jiangxi"
CONFIG_NAME = "jiangxi-2019.toml"

# Config entries that are paths relative to the config file.
_PATH_KEYS = {
    ("regions", "file"),
    ("tables", "parameters"),
    ("tables", "landcover"),
    ("tables", "prices"),
    ("tables", "deflator"),
    ("tables", "statistics"),
    ("tables", "products"),
}

WriteConfig = Callable[..., Path]


# ----------------------------------------------------------------------------- a tiny TOML writer
def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str | Path):
        s = str(v).replace("\\", "\\\\").replace('"', '\\"')
        return f'"{s}"'
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):  # inline table, e.g. exclude = [{id = "…", reason = "…"}]
        return "{" + ", ".join(f'"{k}" = {_toml_value(x)}' for k, x in v.items()) + "}"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def dump_toml(data: dict[str, Any]) -> str:
    """TOML text of a mapping of tables (one level of nesting, as in run configs)."""
    lines: list[str] = []
    for key, val in data.items():
        if not isinstance(val, dict):
            lines.append(f"{key} = {_toml_value(val)}")
    for section, table in data.items():
        if isinstance(table, dict):
            lines.append("")
            lines.append(f"[{section}]")
            for k, v in table.items():
                lines.append(f'"{k}" = {_toml_value(v)}')
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="session")
def example_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Folder holding a private copy of the Jiangxi example (``…/examples/jiangxi``)."""
    root = tmp_path_factory.mktemp("qs_data")
    shutil.copytree(DATA / "examples" / EXAMPLE_NAME, root / "examples" / EXAMPLE_NAME)
    shutil.copytree(DATA / "tables", root / "tables")
    return root / "examples" / EXAMPLE_NAME


def _absolute_config(example_dir: Path) -> dict[str, Any]:
    data = tomllib.loads((example_dir / CONFIG_NAME).read_text(encoding="utf-8"))

    def fix(p: str) -> str:
        return p if Path(p).is_absolute() else str((example_dir / p).resolve())

    for section, key in _PATH_KEYS:
        if key in data.get(section, {}):
            v = data[section][key]
            data[section][key] = [fix(x) for x in v] if isinstance(v, list) else fix(v)
    data["inputs"] = {k: fix(v) for k, v in data.get("inputs", {}).items()}
    return data


@pytest.fixture(scope="session")
def write_config(example_dir: Path) -> WriteConfig:
    """``write_config(dir, **overrides) -> Path`` of a modified example config in ``dir``.

    Each override is a section name with a dict of keys to set; a value of ``None`` removes
    the key. ``run.output`` defaults to ``dir/out`` and ``run.store`` to ``dir/store.sqlite``.
    """

    def _write(directory: Path, **overrides: dict[str, Any]) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        data = _absolute_config(example_dir)
        data["run"]["output"] = str(directory / "out")
        data["run"]["store"] = f"sqlite:///{directory / 'store.sqlite'}"
        for section, changes in overrides.items():
            table = data.setdefault(section, {})
            for k, v in changes.items():
                if v is None:
                    table.pop(k, None)
                else:
                    table[k] = v
        path = directory / "config.toml"
        path.write_text(dump_toml(data), encoding="utf-8")
        return path

    return _write


@pytest.fixture(scope="module")
def example_run(tmp_path_factory: pytest.TempPathFactory, write_config: WriteConfig):  # type: ignore[no-untyped-def]
    """One run of the example per module: the ``RunOutcome`` (config at ``output_dir.parent``)."""
    from qingshan.engine.config import load_config
    from qingshan.engine.run import account

    cfg = write_config(tmp_path_factory.mktemp("example_run"))
    return account(load_config(cfg))


@pytest.fixture(scope="session")
def synth_run(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A tiny ``qingshan synth`` dataset (48², seed 7) accounted once per session: ``(config path, RunOutcome,
    store URL)`` — the parent run of the revaluation tests and the proof that the synth config runs."""
    from qingshan.engine.config import load_config
    from qingshan.engine.run import account, store_url_of
    from qingshan.synth import SynthSpec, write_synth

    cfg_path = write_synth(tmp_path_factory.mktemp("synth") / "data", SynthSpec(size=48, seed=7, counties=3))
    cfg = load_config(cfg_path)
    return cfg_path, account(cfg), store_url_of(cfg)
