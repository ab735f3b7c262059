"""Role × endpoint authorisation matrix over every route of the app.

``ACCESS`` says who may call each route; every (route, role) pair — the five roles and the
anonymous public — is requested: an allowed call must not answer 401/403 (it may be 404 or 422
on the dummy ids and empty bodies used here), a denied call must answer 401 (anonymous) or 403.
A route missing from ``ACCESS`` fails the test, so a new endpoint cannot skip this table.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from platform_support import PASSWORD, ROLES, USERS

from qingshan.api.app import create_app
from qingshan.api.settings import Settings
from qingshan.platform import accounts
from qingshan.store.db import open_store, sqlite_url

PUBLIC = frozenset({"anonymous", *ROLES})
LOGGED_IN = frozenset(ROLES)
ADMIN = frozenset({"admin"})
ACCOUNTING = frozenset({"admin", "accountant"})
REVIEW = frozenset({"admin", "accountant", "reviewer"})
SUBMIT = frozenset({"admin", "submitter"})
DATA = frozenset({"admin", "accountant", "reviewer", "submitter"})

ACCESS: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/"): PUBLIC,
    ("GET", "/docs"): PUBLIC,  # local Swagger UI and ReDoc (qingshan.api.security)
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/redoc"): PUBLIC,
    ("GET", "/api/indicators"): PUBLIC,
    ("GET", "/api/indicators/{indicator_id}"): PUBLIC,
    ("GET", "/api/profiles"): PUBLIC,
    ("GET", "/api/runs"): PUBLIC,
    ("GET", "/api/runs/{run_id}"): PUBLIC,
    ("GET", "/api/runs/{run_id}/summary"): PUBLIC,
    ("GET", "/api/runs/{run_id}/regions"): PUBLIC,
    ("GET", "/api/runs/{run_id}/results"): PUBLIC,
    ("GET", "/api/runs/{run_id}/ranking"): PUBLIC,
    ("POST", "/api/runs/{run_id}/parcel"): PUBLIC,
    ("GET", "/api/runs/{run_id}/gdp"): PUBLIC,
    ("GET", "/api/runs/{run_id}/population"): PUBLIC,
    ("GET", "/api/runs/{run_id}/change"): PUBLIC,  # uses of published runs (issue 9): public like the results
    ("POST", "/api/runs/{run_id}/compensation"): PUBLIC,
    ("GET", "/api/runs/{run_id}/uncertainty"): PUBLIC,  # a stored analysis of a visible run (issue 10)
    ("POST", "/api/runs/{run_id}/uncertainty"): ACCOUNTING,  # computing one is costly
    ("GET", "/api/runs/{run_id}/report"): PUBLIC,
    ("GET", "/api/runs/{run_id}/seea"): PUBLIC,  # SEEA EA tables (issue 10): public for published runs
    ("POST", "/api/runs/{run_id}/parcel/report"): PUBLIC,
    ("GET", "/compensation"): PUBLIC,
    ("GET", "/api/runs/{run_id}/qc"): PUBLIC,
    ("GET", "/api/runs/{run_id}/artifacts"): PUBLIC,  # published runs for the public, any for staff
    ("GET", "/api/runs/{run_id}/artifacts/{name:path}"): PUBLIC,
    ("POST", "/api/auth/login"): PUBLIC,
    ("POST", "/api/auth/logout"): PUBLIC,
    ("GET", "/api/auth/me"): LOGGED_IN,
    ("GET", "/api/users"): ADMIN,
    ("POST", "/api/users"): ADMIN,
    ("PATCH", "/api/users/{user_id}"): ADMIN,
    ("GET", "/api/forms"): LOGGED_IN,
    ("GET", "/api/forms/{group}/template"): DATA,
    ("GET", "/api/submissions"): DATA,
    ("POST", "/api/submissions"): SUBMIT,
    ("POST", "/api/submissions/rasters"): SUBMIT,
    ("GET", "/api/submissions/{submission_id}"): DATA,
    ("GET", "/api/submissions/{submission_id}/versions/{version}/file"): DATA,
    ("POST", "/api/submissions/{submission_id}/versions/{version}/submit"): SUBMIT,
    ("POST", "/api/submissions/{submission_id}/versions/{version}/approve"): REVIEW,
    ("POST", "/api/submissions/{submission_id}/versions/{version}/reject"): REVIEW,
    ("POST", "/api/jobs"): ACCOUNTING,
    ("GET", "/api/jobs"): ACCOUNTING,
    ("GET", "/api/jobs/{job_id}"): ACCOUNTING,
    ("GET", "/api/bases"): ACCOUNTING,
    ("GET", "/api/runs/{run_id}/publication"): ACCOUNTING,
    ("POST", "/api/runs/{run_id}/approve"): ACCOUNTING,
    ("POST", "/api/runs/{run_id}/publish"): ACCOUNTING,
    ("POST", "/api/runs/{run_id}/withdraw"): ACCOUNTING,
    ("POST", "/api/runs/{run_id}/revalue"): ACCOUNTING,  # a new run at new prices (issue 11.4)
    ("GET", "/api/audit"): ACCOUNTING,
    ("GET", "/api/audit/export.csv"): ACCOUNTING,
    ("GET", "/api/submissions/{submission_id}/versions/{version}/review"): DATA,
    ("POST", "/api/submissions/{submission_id}/versions/{version}/comments"): REVIEW,
    ("GET", "/api/submissions/{submission_id}/versions/{version}/preview.png"): DATA,
    ("POST", "/api/uploads"): SUBMIT,
    ("GET", "/api/uploads/{upload_id}"): SUBMIT,
    ("PUT", "/api/uploads/{upload_id}/chunks/{index}"): SUBMIT,
    ("POST", "/api/uploads/{upload_id}/complete"): SUBMIT,
    ("GET", "/api/reporting/tasks"): DATA,
    ("POST", "/api/reporting/tasks"): ACCOUNTING,
    ("GET", "/api/reporting/tasks/{task_id}"): DATA,
    ("GET", "/api/reporting/tasks/{task_id}/progress.csv"): DATA,
    ("POST", "/api/reporting/tasks/{task_id}/remind"): REVIEW,
    ("POST", "/api/reporting/tasks/{task_id}/close"): ACCOUNTING,
    ("GET", "/api/reporting/reminders"): DATA,
    ("POST", "/api/scenarios"): ACCOUNTING,  # scenario jobs (issue 10.3)
    ("GET", "/api/scenarios/{run_id}/difference"): PUBLIC,  # a visible scenario run and its visible base
    ("GET", "/workbench"): PUBLIC,
    ("GET", "/workbench/"): PUBLIC,
    ("GET", "/workbench/submit"): PUBLIC,
    ("GET", "/workbench/review"): PUBLIC,
    ("GET", "/workbench/reporting"): PUBLIC,
    ("GET", "/workbench/admin"): PUBLIC,
    ("GET", "/workbench/submission"): PUBLIC,
    # data catalogue (issue 12.1): reading is public (per-entry visibility decides what is shown), changes by
    # the holding department; assembled accountings (12.2) for accountants; API tokens (12.5) for admins
    ("GET", "/api/catalog"): PUBLIC,
    ("GET", "/api/catalog/{entry_id}"): PUBLIC,
    ("POST", "/api/catalog"): DATA,
    ("PATCH", "/api/catalog/{entry_id}"): DATA,
    ("POST", "/api/catalog/{entry_id}/versions"): DATA,
    ("POST", "/api/catalog/{entry_id}/versions/{version}/approve"): REVIEW,
    ("GET", "/api/catalog/{entry_id}/versions/{version}/file"): PUBLIC,
    ("GET", "/api/catalog/{entry_id}/versions/{version}/download"): PUBLIC,
    ("POST", "/api/catalog/bases/{base}"): ADMIN,
    ("POST", "/api/assemblies/validate"): ACCOUNTING,
    ("POST", "/api/assemblies/jobs"): ACCOUNTING,
    ("POST", "/api/assemblies"): ACCOUNTING,
    ("GET", "/api/assemblies"): ACCOUNTING,
    ("POST", "/api/assemblies/config"): ACCOUNTING,
    ("POST", "/api/assemblies/import"): ACCOUNTING,
    ("POST", "/api/tokens"): ADMIN,
    ("GET", "/api/tokens"): ADMIN,
    ("POST", "/api/tokens/{token_id}/revoke"): ADMIN,
    ("GET", "/workbench/catalog"): PUBLIC,
}
DUMMY = {"run_id": "no-such-run", "indicator_id": "water_conservation", "user_id": "999", "group": "products",
         "submission_id": "999", "version": "1", "job_id": "no-such-job", "task_id": "999",
         "upload_id": "00000000-0000-0000-0000-000000000000", "index": "0",
         "name": "results.csv", "entry_id": "999", "base": "no-such-base", "token_id": "999"}


def app_routes() -> set[tuple[str, str]]:
    """(method, path) of every API route of the app (static files excluded)."""
    app = create_app(Settings(store_url="sqlite:///unused.sqlite"))
    out = set()
    for r in app.routes:
        # FastAPI ≥ 0.16x keeps included routers as one entry with their effective routes
        subs = list(r.effective_candidates()) if hasattr(r, "effective_candidates") else [r]
        for c in subs:
            if isinstance(c, APIRoute) or hasattr(c, "original_route"):
                out |= {(m, c.path) for m in c.methods - {"HEAD"}}
    return out


def test_every_route_is_in_the_matrix() -> None:
    assert app_routes() == set(ACCESS)


@pytest.fixture(scope="module")
def matrix_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, dict]]]:
    url = sqlite_url(Path(tmp_path_factory.mktemp("matrix")) / "m.sqlite")
    factory = open_store(url)
    for name, (role, regions, forms) in USERS.items():
        accounts.create_user(factory, name, PASSWORD, role, regions=regions, forms=forms)
    with TestClient(create_app(Settings(store_url=url))) as c:
        headers: dict[str, dict] = {"anonymous": {}}
        for name in ROLES:
            r = c.post("/api/auth/login", json={"username": name, "password": PASSWORD})
            headers[name] = {"Authorization": f"Bearer {r.json()['token']}"}
        c.cookies.clear()
        yield c, headers


@pytest.mark.parametrize("who", ["anonymous", *ROLES])
@pytest.mark.parametrize(("method", "path"), sorted(ACCESS))
def test_role_endpoint_matrix(matrix_client: tuple[TestClient, dict[str, dict]], who: str, method: str,
                              path: str) -> None:
    client, headers = matrix_client
    h = dict(headers[who])
    if path == "/api/auth/logout" and who != "anonymous":  # logging out must not end the shared session
        r = client.post("/api/auth/login", json={"username": who, "password": PASSWORD})
        h = {"Authorization": f"Bearer {r.json()['token']}"}
    url = re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: DUMMY[m.group(1)], path)
    kwargs = {"json": {}} if method in {"POST", "PATCH"} else {}
    r = client.request(method, url, headers=h, follow_redirects=False, **kwargs)
    client.cookies.clear()
    if who in ACCESS[(method, path)]:
        assert r.status_code not in (401, 403), r.text
    else:
        assert r.status_code == (401 if who == "anonymous" else 403), r.text
