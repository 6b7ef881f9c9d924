"""A database outage as clients meet it: a pooled connection that died is retried once
without anyone noticing; while PostgreSQL is unreachable REST answers 503 `unavailable`
with Retry-After and socket acks `{ok: false, error: {code: "unavailable"}}`; nothing is
half-written; service resumes by itself when the database is back."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlalchemy import create_engine, func, select

from chat_service import create_app
from chat_service.models import Message
from chat_service.state import EXTENSION
from shared.database import normalize_database_url
from shared.testing import TcpRelay

from .conftest import Auth, make_config


@pytest.fixture
def relay(postgresql_url):
    parts = urlsplit(postgresql_url)
    with TcpRelay(parts.hostname, parts.port or 5432) as relay:
        relay.url = urlunsplit((parts.scheme, f"{parts.username}@127.0.0.1:{relay.port}", parts.path, "", ""))
        yield relay


@pytest.fixture
def outage_app(relay, postgresql_url, fake_auth):
    from .conftest import empty_tables

    empty_tables(postgresql_url)
    fake_auth.reset()
    app = create_app(make_config(relay.url, fake_auth.url))
    yield app
    app.extensions[EXTENSION].shutdown()


@pytest.fixture
def chat(outage_app, fake_auth):
    """(REST client, alice, bob, their conversation, alice's socket) with one message sent."""
    client = outage_app.test_client()
    auth = Auth(client, fake_auth)
    alice, bob = auth.user("alice"), auth.user("bob")
    conversation = auth.befriend(alice, bob)
    socket = outage_app.extensions[EXTENSION].socketio.test_client(outage_app, auth={"token": alice.token})
    assert socket.emit("send", {"conversation_id": conversation, "text": "before"}, callback=True)["ok"]
    yield client, alice, bob, conversation, socket
    socket.disconnect()


def stored_messages(url: str) -> int:
    engine = create_engine(normalize_database_url(url))
    with engine.connect() as connection:
        count = connection.scalar(select(func.count()).select_from(Message))
    engine.dispose()
    return count


def test_connections_that_died_are_retried_once_without_a_client_noticing(chat, relay):
    client, alice, bob, conversation, socket = chat

    relay.drop_connections()  # as pg_terminate_backend or a PostgreSQL restart would
    ack = socket.emit("send", {"conversation_id": conversation, "text": "after", "client_id": "c-1"}, callback=True)
    assert ack["ok"] and ack["created"], ack

    relay.drop_connections()
    page = client.get(f"/api/conversations/{conversation}/messages", headers=bob.headers)
    assert page.status_code == 200, page.get_json()
    assert [m["text"] for m in page.get_json()["messages"]] == ["before", "after"]
    relay.drop_connections()
    sent = client.post(f"/api/conversations/{conversation}/messages", json={"text": "rest"}, headers=bob.headers)
    assert sent.status_code == 201, sent.get_json()


def test_database_down_is_503_with_retry_after_and_nothing_half_written(chat, relay, postgresql_url):
    client, alice, bob, conversation, socket = chat

    relay.cut()
    for response in (client.get("/api/conversations", headers=alice.headers),
                     client.get(f"/api/conversations/{conversation}/messages", headers=bob.headers),
                     client.post(f"/api/conversations/{conversation}/messages", json={"text": "x"},
                                 headers=bob.headers)):
        assert response.status_code == 503, response.get_json()
        assert response.get_json()["error"]["code"] == "unavailable"
        assert int(response.headers["Retry-After"]) >= 1
    ack = socket.emit("send", {"conversation_id": conversation, "text": "down", "client_id": "d-1"}, callback=True)
    assert ack["ok"] is False and ack["error"]["code"] == "unavailable", ack
    assert stored_messages(postgresql_url) == 1

    relay.restore()
    ack = socket.emit("send", {"conversation_id": conversation, "text": "down", "client_id": "d-1"}, callback=True)
    assert ack["ok"] and ack["created"], ack
    assert client.get("/api/conversations", headers=alice.headers).status_code == 200
    assert stored_messages(postgresql_url) == 2
