"""Messages sent at the same moment share one statement (PostgreSQL): each sender still gets its
own message, in arrival order per conversation, with the right previous id, and a bad one fails alone."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone

import psycopg2
import pytest
from sqlalchemy.exc import IntegrityError

from chat_service import create_app
from chat_service.message_writer import WRITERS
from chat_service.state import EXTENSION

from .conftest import Auth, empty_tables, make_config


@pytest.fixture
def app(postgresql_url, fake_auth, tmp_path):
    empty_tables(postgresql_url)
    fake_auth.reset()
    application = create_app(make_config(postgresql_url, fake_auth.url, attachment_dir=str(tmp_path / "files")))
    application.config["TESTING"] = True
    yield application
    application.extensions[EXTENSION].shutdown()


@pytest.fixture
def writer(app):
    return app.extensions[EXTENSION].database.message_writer


@contextmanager
def conversations_locked(url: str, *conversation_ids: int):
    """Another transaction holds the conversations' rows, as a slow writer on another instance would."""
    connection = psycopg2.connect(url.replace("postgresql+psycopg2://", "postgresql://"))
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT id FROM conversations WHERE id = ANY(%s) FOR UPDATE", (list(conversation_ids),))
            yield
        connection.commit()
    finally:
        connection.close()


def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def in_threads(*calls, arrived=None) -> tuple[list, list[threading.Thread]]:
    """Each call in a thread of its own, started once `arrived(n)` says the n before it
    have reached the writer (so they arrive in this order)."""
    results: list = [None] * len(calls)

    def run(index, call):
        results[index] = call()

    threads = [threading.Thread(target=run, args=(index, call)) for index, call in enumerate(calls)]
    for count, thread in enumerate(threads):
        if arrived is not None:
            wait_until(lambda: arrived(count))
        thread.start()
    return results, threads


def test_messages_waiting_together_are_stored_in_one_statement_in_arrival_order(app, client, fake_auth,
                                                                                writer, postgresql_url):
    auth = Auth(client, fake_auth)
    alice, bob, carol, dave = auth.user("alice"), auth.user("bob"), auth.user("carol"), auth.user("dave")
    with_bob, with_carol, with_dave = auth.befriend(alice, bob), auth.befriend(alice, carol), auth.befriend(alice, dave)
    url = f"/api/conversations/{with_bob}/messages"

    def send(user, conversation_id, text, client_id=None):
        def call():
            with app.test_client() as own_client:
                body = {"text": text, **({"client_id": client_id} if client_id else {})}
                response = own_client.post(f"/api/conversations/{conversation_id}/messages", json=body,
                                           headers=user.headers)
                return response.status_code, response.get_json()["message"]
        return call

    statements_before = writer.statements
    with conversations_locked(postgresql_url, with_dave):
        # Every writer's statement waits for a lock; what arrives meanwhile gathers.
        first, first_threads = in_threads(send(alice, with_dave, "busy", "d-1"), send(dave, with_dave, "busy", "d-2"),
                                          arrived=lambda count: _waiting_for_a_lock(postgresql_url) == count)
        wait_until(lambda: _waiting_for_a_lock(postgresql_url) == WRITERS and not writer._waiting)
        gathered, threads = in_threads(
            send(alice, with_bob, "one", "a-1"), send(bob, with_bob, "two", "b-1"),
            send(alice, with_carol, "elsewhere", "a-2"), send(bob, with_bob, "no client id"),
            arrived=lambda count: len(writer._waiting) == count)
        wait_until(lambda: len(writer._waiting) == 4)
        repeat, repeat_threads = in_threads(send(alice, with_bob, "one", "a-1"))  # a resend of a lost ack
        wait_until(lambda: len(writer._waiting) == 5)
    for thread in first_threads + threads + repeat_threads:
        thread.join(10)

    assert [status for status, _ in first + gathered] == [201] * 6
    # The two that kept the writers busy alone; then the four together, except the one without
    # client_id (matched by it) and the resend, which found "one" already stored and answers with it.
    assert writer.statements - statements_before == 4
    assert repeat[0][0] == 200 and repeat[0][1]["id"] == gathered[0][1]["id"]
    history = client.get(url, headers=bob.headers).get_json()["messages"]
    assert [m["text"] for m in history] == ["one", "two", "no client id"]
    assert [m["previous_id"] for m in (gathered[0][1], gathered[1][1], gathered[3][1])] == \
        [None, history[0]["id"], history[1]["id"]]
    assert gathered[2][1]["previous_id"] is None  # the first in alice and carol's conversation
    # Each conversation shows its last message, and each sender has read their own.
    listed = {c["id"]: c for c in client.get("/api/conversations", headers=alice.headers).get_json()["conversations"]}
    assert listed[with_bob]["last_message"]["text"] == "no client id"
    assert listed[with_carol]["last_message"]["text"] == "elsewhere"
    assert listed[with_bob]["unread_count"] == 2  # bob's "two" and "no client id"
    assert listed[with_carol]["unread_count"] == 0


def _waiting_for_a_lock(url: str) -> int:
    """How many statements storing messages wait for a lock."""
    connection = psycopg2.connect(url.replace("postgresql+psycopg2://", "postgresql://"))
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                           "AND query LIKE '%%INSERT INTO messages%%'")
            return cursor.fetchone()[0]
    finally:
        connection.close()


def test_a_message_that_cannot_be_stored_fails_alone(client, fake_auth, writer, postgresql_url):
    auth = Auth(client, fake_auth)
    alice, bob, carol = auth.user("alice"), auth.user("bob"), auth.user("carol")
    conversation_id, other_id = auth.befriend(alice, bob), auth.befriend(alice, carol)
    now = datetime.now(timezone.utc)

    def store(sender_id, client_id, in_conversation=conversation_id):
        def call():
            try:
                return writer.store({"conversation_id": in_conversation, "sender_id": sender_id, "text": client_id,
                                     "client_id": client_id, "created_at": now, "reply_to_id": None})
            except IntegrityError as error:
                return error
        return call

    with conversations_locked(postgresql_url, other_id):
        first, first_threads = in_threads(store(alice.id, "y-0", other_id), store(carol.id, "y-1", other_id),
                                          arrived=lambda count: _waiting_for_a_lock(postgresql_url) == count)
        wait_until(lambda: _waiting_for_a_lock(postgresql_url) == WRITERS and not writer._waiting)
        # The middle one names a sender chat has never heard of.
        results, threads = in_threads(store(alice.id, "x-1"), store(999_999, "x-2"), store(bob.id, "x-3"),
                                      arrived=lambda count: len(writer._waiting) == count)
        wait_until(lambda: len(writer._waiting) == 3)
    for thread in first_threads + threads:
        thread.join(10)

    assert isinstance(results[1], IntegrityError)
    assert all(isinstance(result, tuple) for result in first + [results[0], results[2]])
    assert [previous for _, previous in (results[0], results[2])] == [None, results[0][0]]
    history = client.get(f"/api/conversations/{conversation_id}/messages", headers=bob.headers).get_json()
    assert [m["client_id"] for m in history["messages"]] == ["x-1", "x-3"]
