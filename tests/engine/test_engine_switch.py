"""`[run] engine = "dask"` in a config runs the block-wise engine from `qingshan account`, with the same GEP."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd
from typer.testing import CliRunner

from qingshan.cli import app


def _config(example_dir: Path, out: Path, engine: str) -> Path:
    text = (example_dir / "jiangxi-2019.toml").read_text(encoding="utf-8")
    text = re.sub(r'(?m)^output = .*$', f'output = "{out.as_posix()}"\nengine = "{engine}"\nblock_size = 37', text)
    cfg = example_dir / f"run-{engine}.toml"
    cfg.write_text(text, encoding="utf-8")
    return cfg


def test_dask_engine_from_the_config_gives_the_numpy_results(example_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    totals = {}
    for engine in ("numpy", "dask"):
        out = tmp_path / engine
        res = runner.invoke(app, ["account", str(_config(example_dir, out, engine)),
                                  "--store", f"sqlite:///{tmp_path / 'store.sqlite'}"])
        assert res.exit_code == 0, res.output
        df = pd.read_csv(out / "results.csv", dtype={"region_code": str})
        totals[engine] = df[df["region_code"] == "360000"].groupby("indicator")["value"].sum()
    pd.testing.assert_series_equal(totals["numpy"], totals["dask"], rtol=1e-9)


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
