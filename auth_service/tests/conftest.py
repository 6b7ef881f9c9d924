"""Fixtures in the flaskr style: `app`, `client`, `auth`.

`app` runs every test twice, against SQLite (a temp file) and PostgreSQL (one
temporary database per session); both schemas are built by the Alembic
migrations, and tables are emptied before each test.
"""

from __future__ import annotations

import secrets
from typing import Iterator

import pytest
import redis
from sqlalchemy import text

from auth_service import create_app
from auth_service.config import Config
from auth_service.db import EXTENSION as DB_EXTENSION
from auth_service.db import make_engine
from auth_service.migrate import upgrade
from shared import jwt
from shared.testing import app, client, require_redis, temporary_postgres_database  # noqa: F401 (fixtures)

TEST_KEYS = jwt.KeyRing.from_spec("test:" + "k" * 48)
ORIGIN = "http://localhost"  # the Flask test client's own origin
PASSWORD = "correct horse battery"
CHEAP_SCRYPT_N = 2**10


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('auth') / 'auth.sqlite3'}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def postgresql_url() -> Iterator[str]:
    with temporary_postgres_database("auth_test") as url:
        upgrade(url)
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request) -> str:
    """A migrated, empty database."""
    url = request.getfixturevalue(f"{request.param}_url")
    engine = make_engine(url)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("TRUNCATE refresh_tokens, users RESTART IDENTITY CASCADE"))
        else:
            connection.execute(text("DELETE FROM refresh_tokens"))
            connection.execute(text("DELETE FROM users"))
    engine.dispose()
    return url


@pytest.fixture
def redis_settings() -> Iterator[dict]:
    """Config overrides for a real Redis, under a key prefix no other test uses."""
    url = require_redis()
    prefix = f"auth-test-{secrets.token_hex(4)}"
    yield {"redis_url": url, "redis_prefix": prefix}
    client = redis.Redis.from_url(url)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)
    client.close()


@pytest.fixture
def make_app(database_url):
    """Build an app on the test database; keyword arguments override Config fields."""
    apps = []

    def factory(**overrides):
        # Tests register many users from the test client's one address.
        settings = {"key_ring": TEST_KEYS, "database_url": database_url, "scrypt_n": CHEAP_SCRYPT_N,
                    "registration_limit_ip": 1000, **overrides}
        app = create_app(Config(**settings))
        app.testing = True
        apps.append(app)
        return app

    yield factory
    for app in apps:
        app.extensions[DB_EXTENSION].engine.dispose()


class AuthActions:
    def __init__(self, client) -> None:
        self.client = client

    def register(self, username="alice", password=PASSWORD, email=None):
        return self.client.post("/auth/register", json={
            "username": username, "password": password, "email": email or f"{username}@example.com"})

    def login(self, username="alice", password=PASSWORD, **kwargs):
        return self.client.post("/auth/login", json={"username": username, "password": password}, **kwargs)

    def token(self, username="alice", password=PASSWORD, **kwargs):
        return self.client.post("/auth/token", json={"username": username, "password": password}, **kwargs)

    def refresh_cookie(self, **kwargs):
        kwargs.setdefault("headers", {"Origin": ORIGIN})
        return self.client.post("/auth/refresh", **kwargs)

    def refresh_body(self, refresh_token):
        return self.client.post("/auth/refresh", json={"refresh_token": refresh_token})

    def bearer(self, username="alice", password=PASSWORD) -> dict[str, str]:
        response = self.token(username, password)
        assert response.status_code == 200, response.get_json()
        return {"Authorization": f"Bearer {response.get_json()['access_token']}"}

    def cookie(self, name):
        cookie = self.client.get_cookie(name)
        return cookie.value if cookie else None


@pytest.fixture
def auth(client):
    return AuthActions(client)


def set_cookies(response) -> dict[str, str]:
    """Set-Cookie headers of a response by cookie name."""
    return {header.split("=", 1)[0]: header for header in response.headers.getlist("Set-Cookie")}


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]
