"""kill -9 of the web server during uploads (issue 8, crash safety).

A real ``qingshan serve`` process receives a valid form (committed), then further uploads during
which it is killed with SIGKILL: while the body is still arriving, and at several moments after the
body is complete (while the form is parsed, validated and stored). After a restart the store passes
its integrity check, every upload that was answered 201 is there with its rows, and no upload exists
that was not answered (nothing half-written): each submission either is complete or absent.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from platform_support import PASSWORD, USERS, fill_products
from sqlalchemy import create_engine, text

from qingshan.platform import accounts
from qingshan.store.db import open_store, sqlite_url

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, url: str) -> None:
        self.url = url
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        self.proc = subprocess.Popen([sys.executable, "-c", "from qingshan.cli import main; main()", "serve",
                                      "--port", str(self.port), "--store", self.url],
                                     env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t0 = time.time()
        while time.time() - t0 < 60:
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/healthz")
                if c.getresponse().status == 200:
                    return
            except OSError:
                time.sleep(0.2)
        raise AssertionError("server did not start")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def conn(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    url = sqlite_url(tmp_path / "crash.sqlite")
    factory = open_store(url)
    role, regions, forms = USERS["submitter"]
    accounts.create_user(factory, "submitter", PASSWORD, role, regions=regions, forms=forms)
    s = Server(url)
    s.start()
    yield s
    if s.proc is not None and s.proc.poll() is None:
        s.kill()


def _token(s: Server) -> str:
    import json

    c = s.conn()
    c.request("POST", "/api/auth/login", body=json.dumps({"username": "submitter", "password": PASSWORD}),
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    assert r.status == 200
    return str(json.loads(r.read())["token"])


def _multipart(xlsx: bytes) -> tuple[bytes, str]:
    b = uuid.uuid4().hex
    parts = [
        f'--{b}\r\nContent-Disposition: form-data; name="group"\r\n\r\nproducts\r\n',
        f'--{b}\r\nContent-Disposition: form-data; name="year"\r\n\r\n2019\r\n',
        f'--{b}\r\nContent-Disposition: form-data; name="file"; filename="p.xlsx"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n",
    ]
    body = "".join(parts).encode() + xlsx + f"\r\n--{b}--\r\n".encode()
    return body, f"multipart/form-data; boundary={b}"


def _rows(n: int) -> list[list[object]]:
    return [["360102", "东湖区", 2019, "rice", 100.0 + i, "t", "统计年鉴 2020", 2.8, "CNY kg-1"] for i in range(n)]


def _count(url: str) -> tuple[str, int]:
    eng = create_engine(url)
    try:
        with eng.connect() as conn:
            ok = str(conn.execute(text("PRAGMA integrity_check")).scalar())
            n = int(conn.execute(text("SELECT count(*) FROM submission_versions")).scalar() or 0)
            return ok, n
    finally:
        eng.dispose()


def test_kill_during_uploads_loses_nothing_committed_and_leaves_nothing_half(server: Server) -> None:
    body, ctype = _multipart(fill_products(_rows(1500)))
    headers = {"Content-Type": ctype, "Authorization": f"Bearer {_token(server)}"}
    c = server.conn()
    c.request("POST", "/api/submissions", body=body, headers=headers)
    first = c.getresponse()
    assert first.status == 201, first.read()[:500]
    answered = 1

    # killed while the body is still arriving, then after it, at growing delays
    for delay in (None, 0.0, 0.1, 0.4):
        headers["Authorization"] = f"Bearer {_token(server)}"
        c = server.conn()
        c.putrequest("POST", "/api/submissions")
        for k, v in {**headers, "Content-Length": str(len(body))}.items():
            c.putheader(k, v)
        c.endheaders()
        if delay is None:
            c.send(body[: len(body) // 2])
            time.sleep(0.3)
        else:
            c.send(body)
            time.sleep(delay)
        server.kill()
        try:
            if c.getresponse().status == 201:
                answered += 1
        except (OSError, http.client.HTTPException):
            pass
        ok, n = _count(server.url)
        assert ok == "ok"
        assert n >= answered  # nothing answered 201 is lost
        server.start()

    ok, n = _count(server.url)
    assert ok == "ok"
    # every stored version is complete: its upload is there with the same SHA-256 and its rows were
    # parsed; no upload, submission or version exists without the others (nothing half-written)
    eng = create_engine(server.url)
    with eng.connect() as conn:
        orphans = conn.execute(text(
            "SELECT count(*) FROM uploads u LEFT JOIN submission_versions v ON v.upload_id = u.id "
            "WHERE v.id IS NULL")).scalar()
        empty = conn.execute(text(
            "SELECT count(*) FROM form_submissions s LEFT JOIN submission_versions v ON v.submission_id = s.id "
            "WHERE v.id IS NULL")).scalar()
        mismatched = conn.execute(text(
            "SELECT count(*) FROM submission_versions v JOIN uploads u ON u.id = v.upload_id "
            "WHERE u.sha256 != v.sha256 OR length(u.content) != u.size")).scalar()
    eng.dispose()
    assert (orphans, empty, mismatched) == (0, 0, 0)
    headers["Authorization"] = f"Bearer {_token(server)}"
    c = server.conn()
    c.request("POST", "/api/submissions", body=body, headers=headers)
    assert c.getresponse().status == 201  # the restarted server takes uploads again
