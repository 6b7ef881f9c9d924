"""A conversation's `message` event waits for the one before it to be published, on any
instance, and never longer than it can usefully wait (against a real Redis)."""

from __future__ import annotations

import secrets
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from shared.testing import free_port, require_redis

from ..cache import LookupCache
from ..realtime.managers import OnceRedisManager
from ..realtime.ordering import MessageOrder
from .test_sharded_manager import make_manager


def just_now(_message_id: int) -> datetime:
    return datetime.now(timezone.utc)


def message(message_id: int, previous_id: int | None, conversation_id: int = 7) -> dict:
    return {"id": message_id, "conversation_id": conversation_id, "previous_id": previous_id}


def queue_message(payload: dict) -> dict:
    return {"method": "emit", "event": "message", "data": payload, "namespace": "/", "room": ["user:1"],
            "skip_sid": None, "callback": None, "host_id": "h"}


@pytest.fixture
def redis_client():
    client = redis.Redis.from_url(require_redis())
    yield client
    client.close()


def two_instances(client) -> tuple[MessageOrder, MessageOrder]:
    prefix = f"test-{secrets.token_hex(4)}"
    return (MessageOrder(client, prefix=prefix, created_at=just_now),
            MessageOrder(client, prefix=prefix, created_at=just_now))


def waited(order: MessageOrder, payload: dict) -> tuple[threading.Thread, list[float]]:
    """Start waiting in a thread; the list gets the monotonic time the wait ended."""
    ended: list[float] = []
    thread = threading.Thread(target=lambda: (order.wait_for_previous(payload), ended.append(time.monotonic())))
    thread.start()
    return thread, ended


def test_a_message_waits_until_another_instance_published_the_one_before(redis_client):
    here, there = two_instances(redis_client)
    thread, ended = waited(here, message(11, 10))
    time.sleep(0.3)
    assert not ended, "published before the message it follows"
    released_at = time.monotonic()
    for command in there.mark_commands(queue_message(message(10, 9))):
        redis_client.execute_command(*command)
    thread.join(2)
    assert ended and ended[0] - released_at < 0.2
    assert here.waits == 1 and here.gave_up == 0


def test_a_publish_in_this_process_releases_the_wait_at_once():
    order = MessageOrder(None, created_at=just_now)  # one instance, no Redis
    thread, ended = waited(order, message(11, 10))
    time.sleep(0.2)
    assert not ended
    released_at = time.monotonic()
    order.published(message(10, 9))
    thread.join(2)
    assert ended and ended[0] - released_at < 0.1
    started = time.monotonic()
    order.wait_for_previous(message(12, 11, conversation_id=8))  # another conversation: not known here
    assert time.monotonic() - started >= MessageOrder.SETTLE_SECONDS - 0.1


def test_the_first_message_and_one_after_a_published_one_do_not_wait(redis_client):
    here, there = two_instances(redis_client)
    started = time.monotonic()
    here.wait_for_previous(message(1, None))
    for command in there.mark_commands(queue_message(message(5, 4))):
        redis_client.execute_command(*command)
    here.wait_for_previous(message(6, 5))
    here.published(message(6, 5))
    here.wait_for_previous(message(7, 6))
    assert time.monotonic() - started < 0.1
    assert here.waits == 1  # only the one that had to ask Redis


def test_a_previous_message_stored_long_ago_holds_nobody_up(redis_client):
    order = MessageOrder(redis_client, prefix=f"test-{secrets.token_hex(4)}",
                         created_at=lambda _id: datetime.now(timezone.utc) - timedelta(seconds=30))
    started = time.monotonic()
    order.wait_for_previous(message(11, 10))  # e.g. the mark expired, or Redis was emptied
    assert time.monotonic() - started < 0.1


def test_a_publish_that_never_comes_is_waited_for_at_most_the_settle_time(redis_client, monkeypatch):
    monkeypatch.setattr(MessageOrder, "SETTLE_SECONDS", 0.4)
    here, _ = two_instances(redis_client)
    started = time.monotonic()
    here.wait_for_previous(message(11, 10))  # its sender died between commit and publish
    assert 0.35 < time.monotonic() - started < 1.0
    assert here.gave_up == 1


def test_nothing_waits_while_redis_cannot_answer():
    unreachable = redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=1,
                              retry=Retry(NoBackoff(), 0))  # as create_app makes it
    order = MessageOrder(unreachable, created_at=just_now)
    started = time.monotonic()
    order.wait_for_previous(message(11, 10))
    order.wait_for_previous(message(12, 11))
    assert time.monotonic() - started < 0.5


def test_the_mark_only_goes_up(redis_client):
    here, _ = two_instances(redis_client)
    for message_id in (12, 11):
        for command in here.mark_commands(queue_message(message(message_id, message_id - 1))):
            redis_client.execute_command(*command)
    assert int(redis_client.get(here.mark_key(7))) == 12
    assert here.mark_commands({**queue_message(message(13, 12)), "event": "message_updated"}) == []


@pytest.mark.parametrize("kind", ["redis", "sharded"])
def test_each_manager_raises_the_mark_in_the_round_trip_of_the_publish(redis_client, kind):
    prefix = f"test-{secrets.token_hex(4)}"
    url = require_redis()
    manager = (OnceRedisManager(url, channel=f"{prefix}:socketio", cache=LookupCache()) if kind == "redis"
               else make_manager(url, prefix))
    manager.order = order = MessageOrder(redis_client, prefix=prefix, created_at=just_now)
    manager._publish_to_queue(queue_message(message(21, 20, conversation_id=3)))
    assert int(redis_client.get(order.mark_key(3))) == 21
