"""Test helpers for tests that need a real server (PostgreSQL, Redis, nginx, Chromium).

Outside CI a missing server skips the test with a visible reason; with
`CI=true` nothing is skipped: a missing server fails the test.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(reason: str) -> None:
    """Skip (locally) or fail (in CI) because a server or tool is missing."""
    if in_ci():
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def require_executable(name: str) -> str:
    path = shutil.which(name) or (f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else None)
    if not path:
        unavailable(f"{name} is not installed")
    return path


def postgres_admin_url() -> str:
    return os.environ.get("TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def require_postgres() -> str:
    url = postgres_admin_url()
    parts = urlsplit(url)
    if not port_open(parts.hostname or "127.0.0.1", parts.port or 5432):
        unavailable(f"PostgreSQL is not reachable at {parts.hostname}:{parts.port or 5432}")
    return url


def require_redis() -> str:
    url = os.environ.get("TEST_REDIS_URL", DEFAULT_REDIS_URL)
    parts = urlsplit(url)
    if not port_open(parts.hostname or "127.0.0.1", parts.port or 6379):
        unavailable(f"Redis is not reachable at {parts.hostname}:{parts.port or 6379}")
    return url


@contextmanager
def temporary_postgres_database(prefix: str) -> Iterator[str]:
    """Create an empty database for one test session and drop it afterwards."""
    import psycopg2

    admin_url = require_postgres()
    name = f"{prefix}_{secrets.token_hex(4)}"
    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
    finally:
        conn.close()
    parts = urlsplit(admin_url)
    url = urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))
    try:
        yield url
    finally:
        conn = psycopg2.connect(admin_url)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            conn.close()


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> float:
    """Poll `condition` until it is true; the seconds it took. Fails the test after `timeout`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.02)
    return time.monotonic() - started


class SocketEvents:
    """Every event a Socket.IO test client receives, in order, for a test to wait on."""

    def __init__(self, client: Any) -> None:
        self.received: list[tuple[str, Any]] = []
        self._arrived = threading.Condition()
        client.on("*", self._on_event)

    def _on_event(self, name: str, data: Any = None) -> None:
        with self._arrived:
            self.received.append((name, data))
            self._arrived.notify_all()

    def wait_for(self, name: str, match: Callable[[Any], bool] = lambda _data: True,
                 timeout: float = 10.0) -> Any:
        """The data of the first `name` event that matches, taken off the list (waits for it)."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                for index, (event, data) in enumerate(self.received):
                    if event == name and match(data):
                        del self.received[index]
                        return data
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"no matching {name!r} event within {timeout:g} s; got {self.received}")
                self._arrived.wait(remaining)


# The flaskr-style fixtures of a service's tests; its conftest provides `make_app`
# (a factory of configured apps) and imports these.
@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()
