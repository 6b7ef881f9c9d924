"""Fixtures: the app on SQLite and on PostgreSQL (schema from the migrations),
a real HTTP server playing auth's user lookup, and users with real tokens."""

from __future__ import annotations

import itertools
import json
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

import pytest
from sqlalchemy import create_engine, text

from chat_service import create_app
from chat_service.config import Config
from shared.database import normalize_database_url
from chat_service.migrate import upgrade
from chat_service.state import EXTENSION
from shared import jwt
from shared.testing import client, free_port, temporary_postgres_database  # noqa: F401 (fixtures)

KEY_RING = jwt.KeyRing.from_spec("test:" + "k" * 48)
ISSUER, AUDIENCE = "chat-auth", "chat"
ALLOWED_ORIGIN = "http://allowed.example"
TABLES = ["attachments", "message_reactions", "blocks", "messages", "conversation_members", "conversations", "friend_requests",
          "friendships", "users"]


# --- auth_service stand-in: a real HTTP server on a free port -----------------------------------

class FakeAuth:
    """Plays auth's `GET /auth/users/<username>` over a real socket."""

    def __init__(self) -> None:
        self.users: dict[str, dict] = {}
        self.requests: list[dict] = []
        self.status_override: int | None = None
        self._ids = itertools.count(1000)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                fake.requests.append({"path": self.path, "authorization": self.headers.get("Authorization")})
                prefix = "/auth/users/"
                user = None
                if self.path.startswith(prefix):
                    user = fake.users.get(unquote(self.path[len(prefix):]).lower())
                status = fake.status_override or (200 if user else 404)
                body = {"user": user} if status == 200 else {"error": {"code": "not_found", "message": "x"}}
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def register(self, username: str) -> dict:
        user = {"id": next(self._ids), "username": username, "created_at": "2024-01-02T03:04:05.000Z"}
        self.users[username.lower()] = user
        return user

    def reset(self) -> None:
        self.users.clear()
        self.requests.clear()
        self.status_override = None


@pytest.fixture(scope="session")
def fake_auth():
    server = FakeAuth()
    yield server
    server.server.shutdown()


# --- databases ----------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('chat') / 'chat.sqlite3'}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def postgresql_url():
    with temporary_postgres_database("chat_test") as url:
        engine = create_engine(normalize_database_url(url), isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            # A throwaway database: skip waiting for the disk at each commit, keep the suite fast.
            connection.execute(text(f'ALTER DATABASE "{engine.url.database}" SET synchronous_commit = off'))
        engine.dispose()
        upgrade(url)
        yield url


def empty_tables(url: str) -> None:
    engine = create_engine(normalize_database_url(url))
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
        else:
            for table in TABLES:
                connection.execute(text(f"DELETE FROM {table}"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request):
    url = request.getfixturevalue(f"{request.param}_url")
    empty_tables(url)
    return url


def make_config(database_url: str, auth_url: str, **overrides) -> Config:
    settings = dict(database_url=database_url, key_ring=KEY_RING, jwt_issuer=ISSUER, jwt_audience=AUDIENCE,
                    allowed_origins=(ALLOWED_ORIGIN,), auth_service_url=auth_url, auth_timeout=2.0,
                    instance_id="test-instance")
    settings.update(overrides)
    return Config(**settings)


@pytest.fixture
def config_overrides() -> dict:
    """Config fields a test sets differently (parametrize `config_overrides` to change)."""
    return {}


@pytest.fixture
def app(database_url, fake_auth, config_overrides, tmp_path):
    fake_auth.reset()
    application = create_app(make_config(database_url, fake_auth.url, attachment_dir=str(tmp_path / "attachments"),
                                         **config_overrides))
    application.config["TESTING"] = True
    yield application
    application.extensions[EXTENSION].shutdown()


@pytest.fixture
def socketio(app):
    return app.extensions[EXTENSION].socketio


# --- users and tokens ---------------------------------------------------------------------------

def make_token(user: dict, *, lifetime: int = 900, now: float | None = None, ring: jwt.KeyRing = KEY_RING,
               **extra) -> str:
    claims = jwt.make_claims(subject=str(user["id"]), issuer=ISSUER, audience=AUDIENCE,
                             lifetime_seconds=lifetime, now=now,
                             extra={"name": user["username"], "typ": "access",
                                    "created_at": user["created_at"], **extra})
    return jwt.encode(claims, ring)


@dataclass
class TestUser:
    id: int
    username: str
    created_at: str
    token: str
    headers: dict = field(default_factory=dict)

    @property
    def payload(self) -> dict:
        """As chat shows the user before they set an avatar."""
        return {"id": self.id, "username": self.username, "created_at": self.created_at, "avatar_url": None}


class Auth:
    """Creates users known to the fake auth service, with valid access tokens."""

    def __init__(self, client, fake_auth: FakeAuth) -> None:
        self.client = client
        self.fake_auth = fake_auth

    def user(self, username: str, *, seen: bool = True) -> TestUser:
        """A registered user; `seen` makes one request so chat learns them from the token."""
        record = self.fake_auth.register(username)
        token = make_token(record)
        user = TestUser(record["id"], username, record["created_at"], token,
                        {"Authorization": f"Bearer {token}"})
        if seen:
            assert self.client.get("/api/friends", headers=user.headers).status_code == 200
        return user

    def befriend(self, a: TestUser, b: TestUser) -> int:
        """Make a and b friends through the API; returns their direct conversation id."""
        response = self.client.post("/api/friend-requests", json={"username": b.username}, headers=a.headers)
        assert response.status_code == 201, response.get_json()
        request_id = response.get_json()["request"]["id"]
        response = self.client.post(f"/api/friend-requests/{request_id}/accept", headers=b.headers)
        assert response.status_code == 200, response.get_json()
        return response.get_json()["conversation_id"]

    def send(self, user: TestUser, conversation_id: int, text: str = "hello", **body) -> dict:
        response = self.client.post(f"/api/conversations/{conversation_id}/messages",
                                    json={"text": text, **body}, headers=user.headers)
        assert response.status_code == 201, response.get_json()
        return response.get_json()["message"]


@pytest.fixture
def auth(client, fake_auth):
    return Auth(client, fake_auth)


def utc_iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).isoformat().replace("+00:00", "Z")


