"""The old `[run] engine` switch in configs, and the scheduler option of the one engine."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from qingshan.cli import app


def _config(example_dir: Path, out: Path, engine: str) -> Path:
    text = (example_dir / "jiangxi-2019.toml").read_text(encoding="utf-8")
    text = re.sub(r'(?m)^output = .*$', f'output = "{out.as_posix()}"\nengine = "{engine}"\nblock_size = 37', text)
    cfg = example_dir / f"run-{engine}.toml"
    cfg.write_text(text, encoding="utf-8")
    return cfg


def test_old_engine_switch_in_a_config_is_accepted_and_ignored(example_dir: Path, tmp_path: Path) -> None:
    """There is one (block-wise) engine; ``engine = "numpy"|"dask"`` of old configs still loads and changes
    nothing of the meaning (the same content-relevant config), and a bad value is still refused."""
    from qingshan.engine.config import load_config

    a, b = (load_config(_config(example_dir, tmp_path / e, e)) for e in ("numpy", "dask"))
    assert a.run.block_size == b.run.block_size == 37
    assert a.run.model_dump(exclude={"engine", "output"}) == b.run.model_dump(exclude={"engine", "output"})
    assert (a.inputs, a.tables, a.options) == (b.inputs, b.tables, b.options)
    import pytest

    from qingshan.core.errors import QingshanError

    with pytest.raises((QingshanError, ValueError)):
        load_config(_config(example_dir, tmp_path / "x", "spark"))


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_scheduler_is_a_bilingual_error(example_dir: Path, tmp_path: Path, monkeypatch: Any) -> None:
    """`qingshan account --scheduler tcp://…` with nobody listening: the error names run.scheduler and
    the fix, in English and Chinese, without a traceback; no run is recorded."""
    from qingshan.engine import blocks

    monkeypatch.setattr(blocks, "SCHEDULER_TIMEOUT", 1.0)
    out = tmp_path / "out"
    store = tmp_path / "store.sqlite"
    address = f"tcp://127.0.0.1:{_closed_port()}"
    res = CliRunner().invoke(app, ["account", str(_config(example_dir, out, "numpy")), "--store", f"sqlite:///{store}",
                                   "--scheduler", address])
    assert res.exit_code != 0
    text = " ".join(res.output.split())
    assert address in text and "run.scheduler" in text and "调度器" in text and "tcp://HOST:PORT" in text
    assert "Traceback" not in res.output and not isinstance(res.exception, OSError | TimeoutError)
    assert not out.exists()
