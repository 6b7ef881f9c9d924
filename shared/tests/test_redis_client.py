"""Publishing through `shared.redis_client.Publisher` on a real Redis server."""

from __future__ import annotations

import contextlib
import secrets
import threading
import time

import pytest
import redis

from shared.redis_client import Publisher, connect
from shared.testing import require_redis


def _received(pubsub, count: int, timeout: float = 5.0) -> list[tuple[str, str]]:
    messages = []
    deadline = time.monotonic() + timeout
    while len(messages) < count and time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.1)
        if message and message["type"] == "message":
            messages.append((message["channel"].decode(), message["data"].decode()))
    return messages


@contextlib.contextmanager
def _subscribed(client, *channels: str):
    pubsub = client.pubsub()
    pubsub.subscribe(*channels)
    try:
        yield pubsub
    finally:
        pubsub.close()


@pytest.fixture
def client():
    client = connect(require_redis())
    yield client
    client.close()


@pytest.fixture
def publisher(client):
    publisher = Publisher(client)
    yield publisher
    publisher.close()


def test_publishes_every_command_in_order(client, publisher):
    first, second = f"test:{secrets.token_hex(4)}:a", f"test:{secrets.token_hex(4)}:b"
    with _subscribed(client, first, second) as pubsub:
        publisher.publish_all([("PUBLISH", first, "1"), ("PUBLISH", second, "2"), ("PUBLISH", first, "3")])
        assert _received(pubsub, 3) == [(first, "1"), (second, "2"), (first, "3")]


def test_a_refused_command_raises_and_leaves_no_reply_behind_for_the_next_publish(client, publisher):
    channel = f"test:{secrets.token_hex(4)}"
    with _subscribed(client, channel) as pubsub:
        with pytest.raises(redis.ResponseError):
            # The second command is refused; the third's reply is never read.
            publisher.publish_all([("PUBLISH", channel, "1"), ("PUBLISH", channel), ("PUBLISH", channel, "2")])
        # The same connection is used again: it must answer this call, not with the old replies.
        assert publisher.publish_all([("PUBLISH", channel, "3"), ("ECHO", "mine")]) == [1, b"mine"]
        assert [data for _, data in _received(pubsub, 3)] == ["1", "2", "3"]


def _counting_round_trips(publisher: Publisher) -> list[int]:
    """How many times the publisher's connection sends (one per round trip)."""
    connection = publisher._connection
    sent = [0]
    send = connection.send_packed_command

    def counted(*args, **kwargs):
        sent[0] += 1
        return send(*args, **kwargs)

    connection.send_packed_command = counted
    return sent


def test_calls_made_while_a_round_trip_is_out_go_together_in_the_next_with_their_own_replies(client, publisher):
    channel = f"test:{secrets.token_hex(4)}"
    with _subscribed(client, channel) as pubsub:
        publisher.publish_all([("PUBLISH", channel, "first")])
        sent = _counting_round_trips(publisher)
        # A command the server holds for 0.3 s keeps the next round trip waiting.
        slow = threading.Thread(target=publisher.publish_all, args=([("BLPOP", f"{channel}:empty", "0.3")],))
        slow.start()
        time.sleep(0.1)
        replies: dict[int, list] = {}

        def call(n: int) -> None:
            replies[n] = publisher.publish_all([("PUBLISH", channel, str(n)), ("ECHO", f"call {n}")])

        callers = [threading.Thread(target=call, args=(n,)) for n in range(5)]
        for caller in callers:
            caller.start()
            time.sleep(0.01)  # arrive in order
        for thread in [slow, *callers]:
            thread.join(5)
        assert replies == {n: [1, f"call {n}".encode()] for n in range(5)}
        assert sent[0] == 2  # the slow one, then the five together
        assert [data for _, data in _received(pubsub, 6)] == ["first", "0", "1", "2", "3", "4"]


def test_a_refused_command_fails_only_the_call_that_sent_it(client, publisher):
    channel = f"test:{secrets.token_hex(4)}"
    publisher.publish_all([("PUBLISH", channel, "warm")])
    outcomes: dict[str, object] = {}

    def call(name: str, commands: list) -> None:
        try:
            outcomes[name] = publisher.publish_all(commands)
        except redis.ResponseError as error:
            outcomes[name] = error

    slow = threading.Thread(target=call, args=("slow", [("BLPOP", f"{channel}:empty", "0.3")]))
    slow.start()
    time.sleep(0.1)
    refused = threading.Thread(target=call, args=("refused", [("PUBLISH", channel)]))
    fine = threading.Thread(target=call, args=("fine", [("ECHO", "fine")]))
    for thread in (refused, fine):
        thread.start()
        time.sleep(0.01)
    for thread in (slow, refused, fine):
        thread.join(5)
    assert outcomes["slow"] == [None]
    assert isinstance(outcomes["refused"], redis.ResponseError)
    assert outcomes["fine"] == [b"fine"]


def test_a_connection_the_server_closed_is_replaced_before_publishing(client, publisher):
    channel = f"test:{secrets.token_hex(4)}"
    with _subscribed(client, channel) as pubsub:
        publisher.publish_all([("PUBLISH", channel, "before")])
        (connection_id,) = publisher.publish_all([("CLIENT", "ID")])
        client.client_kill_filter(_id=connection_id)
        time.sleep(0.1)
        assert publisher.publish_all([("PUBLISH", channel, "after")]) == [1]
        assert [data for _, data in _received(pubsub, 2)] == ["before", "after"]
