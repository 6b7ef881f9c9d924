"""The real entry points: `python -m auth_service.migrate`, then gunicorn serving auth_service.wsgi:app."""

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from shared.testing import free_port, temporary_postgres_database

REPO_ROOT = Path(__file__).resolve().parents[2]
KEYS = "local:" + "s" * 48


def call(base, path, body=None, headers=None):
    request = urllib.request.Request(base + path, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, json.loads(response.read() or b"null"), response.headers
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), error.headers


def wait_healthy(base, process):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "gunicorn exited"
        try:
            return call(base, "/healthz")
        except OSError:  # not listening yet (URLError), or too slow to answer while starting
            time.sleep(0.2)
    pytest.fail("auth_service did not answer /healthz")


def serve_and_use(database_url, tmp_path):
    env = {**os.environ, "DATABASE_URL": database_url, "JWT_KEYS": KEYS, "PASSWORD_SCRYPT_N": "1024",
           "PYTHONPATH": str(REPO_ROOT)}
    subprocess.run([sys.executable, "-m", "auth_service.migrate"], env=env, cwd=tmp_path, check=True, timeout=60)
    port = free_port()
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--no-control-socket", "-b", f"127.0.0.1:{port}", "-w", "2",
             "-k", "gthread", "--threads", "4", "auth_service.wsgi:app"],
            env=env, cwd=tmp_path, stdout=log_file, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_healthy(base, process)[:2] == (200, {"status": "ok"})
        status, body, _ = call(base, "/auth/register",
                               {"username": "alice", "email": "a@example.com", "password": "Secret-pw-123"})
        assert status == 201
        status, body, _ = call(base, "/auth/token", {"username": "alice", "password": "Secret-pw-123"})
        assert status == 200
        status, me, _ = call(base, "/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
        assert status == 200 and me["user"]["username"] == "alice"
        status, _, headers = call(base, "/auth/login", {"username": "alice", "password": "wrong"},
                                  headers={"X-Request-ID": "abc123def456"})
        assert status == 401 and headers["X-Request-ID"] == "abc123def456"
    finally:
        process.terminate()
        process.wait(timeout=10)
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    assert any(line.get("request_id") == "abc123def456" and line.get("status") == 401 for line in lines)
    text = log_path.read_text()
    assert "Secret-pw-123" not in text and body["refresh_token"] not in text


@pytest.mark.system
def test_migrate_and_gunicorn_on_sqlite(tmp_path):
    serve_and_use(f"sqlite:///{tmp_path / 'auth.sqlite3'}", tmp_path)


@pytest.mark.system
def test_migrate_and_gunicorn_on_postgresql(tmp_path):
    with temporary_postgres_database("auth_server") as url:
        serve_and_use(url, tmp_path)
