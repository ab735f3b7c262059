"""`qingshan demo` loads the example into the service: the run is published and demo logins work."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from qingshan.api.app import create_app
from qingshan.api.settings import Settings
from qingshan.cli import app
from qingshan.cli.demo_service import DEMO_ACCOUNTS, DEMO_PASSWORD


def test_demo_publishes_the_run_and_creates_logins(tmp_path: Path) -> None:
    out = tmp_path / "jiangxi-2019"
    result = CliRunner().invoke(app, ["demo", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "demo-accountant" in result.output
    assert "http://127.0.0.1:8000/" in result.output
    assert "29,040.66" in result.output and "jiangxi-2019.md" in result.output  # the published figure beside it
    report = tmp_path / "jiangxi-2019-report.pdf"  # make demo writes the example's accounting report too
    assert report.read_bytes()[:5] == b"%PDF-"
    assert "jiangxi-2019-report.pdf" in result.output.replace("\n", "")
    client = TestClient(create_app(Settings(store_url=f"sqlite:///{tmp_path / 'qingshan.sqlite'}")))
    runs = client.get("/api/runs").json()  # anonymous: published runs only
    assert len(runs) == 1
    summary = client.get(f"/api/runs/{runs[0]['id']}/summary").json()
    assert summary["total"] > 0
    for acc in DEMO_ACCOUNTS:
        r = client.post("/api/auth/login", json={"username": acc.username, "password": DEMO_PASSWORD})
        assert r.status_code == 200, r.text
    # a second demo run adds a run and keeps the accounts (no duplicate-user error)
    again = CliRunner().invoke(app, ["demo", "--output", str(out)])
    assert again.exit_code == 0, again.output
    assert len(client.get("/api/runs").json()) == 2
