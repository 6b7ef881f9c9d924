"""Fixtures in the flaskr style (`app`, `client`, `auth`), against the real services over real HTTP.

auth_service and chat_service run in threads on free loopback ports (SQLite files,
cheap password hashing, one shared JWT key ring), so every page is rendered from
genuine backend answers; `dead_backend_url` is a port where nothing listens.
"""

from __future__ import annotations

import re
import secrets
import threading
from typing import Iterator

import pytest
from werkzeug.serving import make_server

from shared import jwt
from shared.testing import app, client, free_port  # noqa: F401 (fixtures)
from web_frontend import create_app
from web_frontend.config import Config

PASSWORD = "correct horse battery"
KEYS_SPEC = "test:" + "k" * 48
ORIGIN = "http://localhost"  # the Flask test client's origin


def serve(app) -> Iterator[str]:
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        thread.join(5)


@pytest.fixture(scope="session")
def auth_url(tmp_path_factory) -> Iterator[str]:
    import auth_service
    from auth_service.migrate import upgrade

    url = f"sqlite:///{tmp_path_factory.mktemp('auth') / 'auth.sqlite3'}"
    upgrade(url)
    app = auth_service.create_app(auth_service.config.Config.from_env({
        "DATABASE_URL": url, "JWT_KEYS": KEYS_SPEC, "PASSWORD_SCRYPT_N": "1024", "ALLOWED_ORIGINS": ORIGIN,
        "REGISTRATION_LIMIT_IP": "100000",  # every test registers from 127.0.0.1
    }))
    yield from serve(app)


@pytest.fixture(scope="session")
def chat_url(tmp_path_factory, auth_url) -> Iterator[str]:
    import chat_service
    from chat_service.migrate import upgrade

    url = f"sqlite:///{tmp_path_factory.mktemp('chat') / 'chat.sqlite3'}"
    upgrade(url)
    app = chat_service.create_app(chat_service.config.Config.from_env({
        "DATABASE_URL": url, "JWT_KEYS": KEYS_SPEC, "AUTH_SERVICE_URL": auth_url, "ALLOWED_ORIGINS": ORIGIN,
    }))
    yield from serve(app)


@pytest.fixture
def dead_backend_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def make_app(auth_url, chat_url):
    def factory(**overrides):
        settings = dict(auth_service_url=auth_url, chat_service_urls=(chat_url,), secret_key="s" * 48,
                        cookie_secure=False, request_timeout=5.0, app_env="development")
        settings.update(overrides)
        app = create_app(Config(**settings))
        app.testing = True
        return app

    return factory


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF token"
    return match.group(1)


class AuthActions:
    def __init__(self, client) -> None:
        self.client = client

    def form(self, path: str, data: dict, page: str | None = None):
        token = csrf_from(self.client.get(page or path).get_data(as_text=True))
        return self.client.post(path, data={**data, "csrf_token": token}, headers={"Origin": ORIGIN})

    def register(self, username: str | None = None, password: str = PASSWORD):
        username = username or f"user_{secrets.token_hex(3)}"
        response = self.form("/register", {"username": username, "email": f"{username}@example.com",
                                           "password": password})
        assert response.status_code == 303, response.get_data(as_text=True)[:500]
        return username

    def login(self, username: str, password: str = PASSWORD):
        return self.form("/login", {"username": username, "password": password})

    def cookie(self, name: str) -> str | None:
        cookie = self.client.get_cookie(name)
        return cookie.value if cookie else None


@pytest.fixture
def auth(client) -> AuthActions:
    return AuthActions(client)


def expired_token(user_id: int, username: str) -> str:
    ring = jwt.KeyRing.from_spec(KEYS_SPEC)
    claims = jwt.make_claims(subject=str(user_id), issuer="chat-auth", audience="chat", lifetime_seconds=-60,
                             extra={"name": username, "typ": "access"})
    return jwt.encode(claims, ring)
