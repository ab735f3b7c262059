"""End to end through the API and a real worker process: submit with an error → fix → submit →
approve → run (worker) → approve run → publish → the public sees it."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from openpyxl import load_workbook
from platform_support import fill_products

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def run_worker(store_url: str, out: Path) -> subprocess.CompletedProcess[str]:
    """``qingshan worker --once`` in a separate process (as deployed)."""
    return subprocess.run(
        [sys.executable, "-m", "qingshan.cli.platform", "worker", "--store", store_url, "--once",
         "--output", str(out), "--poll", "0.1"],
        capture_output=True, text=True, timeout=300, check=False,
    )


def _upload(client: TestClient, headers: dict[str, str], body: bytes) -> dict:
    r = client.post("/api/submissions", headers=headers, data={"group": "products", "year": "2019"},
                    files={"file": ("products-2019.xlsx", body, XLSX)})
    assert r.status_code == 201, r.text
    return r.json()


def test_submit_review_run_publish(client: TestClient, auth: Callable[[str], dict[str, str]], store_url: str,
                                   tmp_path: Path) -> None:
    sub, rev, acc = auth("submitter"), auth("reviewer"), auth("accountant")

    # the submitter downloads the template: README + data sheet, regions limited to Nanchang (3601xx)
    r = client.get("/api/forms/products/template", params={"year": 2019}, headers=sub)
    assert r.status_code == 200
    wb = load_workbook(io.BytesIO(r.content))
    assert {"README", "data", "lists"} <= set(wb.sheetnames)
    codes = [c for (c,) in wb["lists"].iter_rows(min_row=2, min_col=3, max_col=3, values_only=True) if c]
    assert codes and all(str(c).startswith("3601") for c in codes)

    # one bad cell (row 4, column E) → a draft with one bilingual error, which cannot be submitted
    bad = _upload(client, sub, fill_products([["360102", "东湖区", 2019, "rice", 0.9, "万t", "county survey"],
                                             ["360111", "青山湖区", 2019, "rice", "lots", "万t", "county survey"]]))
    v1 = bad["versions"][-1]
    assert (v1["version"], v1["status"], v1["n_errors"]) == (1, "draft", 1)
    err = v1["errors"][0]
    assert (err["sheet"], err["row"], err["column"], err["code"]) == ("data", 4, "E", "not_numeric")
    assert "第 4 行 E 列" in err["message_zh"] and "row 4, column E" in err["message_en"]
    sid = bad["id"]
    assert client.post(f"/api/submissions/{sid}/versions/1/submit", headers=sub).status_code == 409

    # fixed → version 2 of the same submission, submitted, approved (and then locked)
    good = _upload(client, sub, fill_products([["360102", "东湖区", 2019, "rice", 0.9, "万t", "county survey"],
                                              ["360111", "青山湖区", 2019, "rice", 3.5, "万t", "county survey"]]))
    assert good["id"] == sid and good["latest_version"] == 2 and good["versions"][-1]["n_errors"] == 0
    assert client.post(f"/api/submissions/{sid}/versions/2/submit", headers=sub).json()["status"] == "submitted"
    assert client.post(f"/api/submissions/{sid}/versions/2/approve", headers=sub).status_code == 403
    r = client.post(f"/api/submissions/{sid}/versions/2/approve", headers=rev, json={"comment": "核对无误"})
    assert r.json()["status"] == "approved"
    assert client.post(f"/api/submissions/{sid}/versions/2/reject", headers=rev).status_code == 409  # locked
    assert [v["status"] for v in client.get(f"/api/submissions/{sid}", headers=rev).json()["versions"]] == \
        ["draft", "approved"]

    # the accountant queues a run; nothing runs in the request
    r = client.post("/api/jobs", headers=acc, json={"profile": "jiangxi-db36-2021", "years": [2019], "base": "example:jiangxi-2019"})
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["status"] == "queued" and job["run_id"] is None
    assert (job["base"], job["example"]) == ("example:jiangxi-2019", True)  # explicit, and labelled
    assert job["params"]["versions"][0]["version"] == 2

    # a separate worker process executes it
    proc = run_worker(store_url, tmp_path / "jobs")
    assert proc.returncode == 0, proc.stderr
    job = client.get(f"/api/jobs/{job['id']}", headers=acc).json()
    assert job["status"] == "succeeded", job["error"]
    assert job["progress"] == 1.0 and job["step"] == "done"
    run_id = job["run_id"]

    # not public until approved and published; publishing before approval is refused
    assert run_id not in [x["id"] for x in client.get("/api/runs").json()]
    assert client.get(f"/api/runs/{run_id}/summary").status_code == 404
    assert run_id in [x["id"] for x in client.get("/api/runs", headers=acc).json()]
    assert client.post(f"/api/runs/{run_id}/publish", headers=acc).status_code == 409
    qc = client.get(f"/api/runs/{run_id}/qc", headers=acc).json()  # what the approver reads first
    assert qc["example"] is True and "agricultural_products" in qc["computed"]
    assert {e["id"] for e in qc["excluded"]} == {"forestry_products", "livestock_products", "fishery_products"}
    assert next(r for r in client.get("/api/runs", headers=acc).json() if r["id"] == run_id)["example"] is True
    assert client.post(f"/api/runs/{run_id}/approve", headers=acc, json={"acknowledge_qc": True}).json()["state"] == "approved"
    assert client.post(f"/api/runs/{run_id}/publish", headers=acc).json()["state"] == "published"

    # the public reads the published run; the approved rice statistics were used:
    # 东湖区 0.9 万t = 9000 t (the example's approximate 0.8071 万t was replaced)
    assert run_id in [x["id"] for x in client.get("/api/runs").json()]
    rows = client.get(f"/api/runs/{run_id}/results",
                      params={"region": "360102", "indicator": "agricultural_products"}).json()["rows"]
    rice = [x for x in rows if x["component"] == "rice"]
    assert len(rice) == 1 and abs(rice[0]["quantity"] - 9000.0) < 1e-6

    # the audit log tells the story in order
    actions = [a["action"] for a in reversed(client.get("/api/audit", headers=auth("admin")).json())]
    story = ["submission.upload", "submission.upload", "submission.submit", "submission.approve", "job.request",
             "job.start", "job.succeed", "run.approve", "run.publish"]
    it = iter(actions)
    assert all(a in it for a in story), actions

    # a rerun is a new run; the published one stays published
    job2 = client.post("/api/jobs", headers=acc, json={"profile": "jiangxi-db36-2021", "years": [2019], "base": "example:jiangxi-2019"}).json()
    assert run_worker(store_url, tmp_path / "jobs").returncode == 0
    run2 = client.get(f"/api/jobs/{job2['id']}", headers=acc).json()["run_id"]
    assert run2 not in (None, run_id)
    assert [x["id"] for x in client.get("/api/runs").json()] == [run_id]
    assert client.get(f"/api/runs/{run2}/publication", headers=acc).json()["state"] == "draft"


def test_accounting_names_its_base(client: TestClient, auth: Callable[[str], dict[str, str]]) -> None:
    """No hidden base configuration: a request without one, or with an unknown one, is a bilingual 422."""
    acc = auth("accountant")
    r = client.post("/api/jobs", headers=acc, json={"profile": "jiangxi-db36-2021", "years": [2019]})
    assert r.status_code == 422 and "base" in r.text
    r = client.post("/api/jobs", headers=acc, json={"profile": "jiangxi-db36-2021", "years": [2019], "base": "nowhere"})
    assert r.status_code == 422 and "example:jiangxi-2019" in r.json()["fix"] and r.json()["message_zh"]
    assert client.get("/api/bases", headers=acc).json() == [{"name": "example:jiangxi-2019", "example": True}]
