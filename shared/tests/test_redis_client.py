"""Publishing through `shared.redis_client.Publisher` on a real Redis server."""

from __future__ import annotations

import secrets
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
    pubsub = client.pubsub()
    pubsub.subscribe(first, second)
    try:
        publisher.publish_all([("PUBLISH", first, "1"), ("PUBLISH", second, "2"), ("PUBLISH", first, "3")])
        assert _received(pubsub, 3) == [(first, "1"), (second, "2"), (first, "3")]
    finally:
        pubsub.close()


def test_a_refused_command_raises_and_leaves_no_reply_behind_for_the_next_publish(client, publisher):
    channel = f"test:{secrets.token_hex(4)}"
    pubsub = client.pubsub()
    pubsub.subscribe(channel)
    try:
        with pytest.raises(redis.ResponseError):
            # The second command is refused; the third's reply is never read.
            publisher.publish_all([("PUBLISH", channel, "1"), ("PUBLISH", channel), ("PUBLISH", channel, "2")])
        # The same connection is used again: it must answer this call, not with the old replies.
        assert publisher.publish_all([("PUBLISH", channel, "3"), ("ECHO", "mine")]) == [1, b"mine"]
        assert [data for _, data in _received(pubsub, 3)] == ["1", "2", "3"]
    finally:
        pubsub.close()
