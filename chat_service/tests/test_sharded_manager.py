"""The sharded Socket.IO manager against a real Redis: how events are addressed, and
that an instance subscribes to a shard exactly while it hosts someone of it."""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
from typing import Iterator

import pytest
import redis
import socketio

from shared.testing import RedisServer, require_redis

from ..cache import INVALIDATING_EVENTS, ConversationFacts, LookupCache
from ..realtime.rooms import is_user_room, user_room
from ..realtime.sharded_manager import ShardedRedisManager, shard_of

SHARDS = 8


def make_manager(url: str, prefix: str, shards: int = SHARDS) -> ShardedRedisManager:
    return ShardedRedisManager(url, prefix=prefix, shards=shards, cache=LookupCache(),
                               sharded_room=is_user_room, everyone_events=INVALIDATING_EVENTS)


def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def rooms_in_shard(shard: int, shards: int = SHARDS) -> Iterator[str]:
    return (user_room(uid) for uid in itertools.count(1) if shard_of(user_room(uid), shards) == shard)


# --- addressing (no Redis needed) ---------------------------------------------------------------

def emit_message(room, event: str = "message") -> dict:
    return {"method": "emit", "event": event, "data": [{}], "namespace": "/", "room": room,
            "skip_sid": None, "callback": None, "host_id": "h"}


def test_an_emit_is_published_once_per_shard_of_its_user_rooms():
    manager = make_manager("redis://127.0.0.1:1/0", "p")
    rooms = [user_room(uid) for uid in range(1, 40)]
    routes = manager.routes(emit_message(rooms))
    channels = [channel for channel, _ in routes]
    assert len(channels) == len(set(channels)) == len({shard_of(r, SHARDS) for r in rooms})
    for channel, message in routes:
        assert all(manager.shard_channel(shard_of(r, SHARDS)) == channel for r in message["room"])
    assert sorted(r for _, message in routes for r in message["room"]) == sorted(rooms)


def test_an_emit_to_the_rooms_of_many_shards_is_published_once_on_the_broadcast_channel():
    manager = make_manager("redis://127.0.0.1:1/0", "p", shards=1024)
    group = emit_message([user_room(uid) for uid in range(1, 101)])
    assert manager.routes(group) == [(None, group)]


def test_shards_are_stable_and_spread():
    assert shard_of("user:42", 64) == shard_of("user:42", 64)
    assert len({shard_of(user_room(uid), 64) for uid in range(1000)}) == 64


def test_what_everyone_must_see_goes_on_the_broadcast_channel():
    manager = make_manager("redis://127.0.0.1:1/0", "p")
    assert manager.routes(emit_message(None)) == [(None, emit_message(None))]
    for event in INVALIDATING_EVENTS:
        assert manager.routes(emit_message([user_room(1)], event)) == [(None, emit_message([user_room(1)], event))]
    disconnect = {"method": "disconnect", "sid": "abc", "namespace": "/", "host_id": "h"}
    assert manager.routes(disconnect) == [(None, disconnect)]
    mixed = manager.routes(emit_message([user_room(1), "a-sid"]))
    assert (None, emit_message(["a-sid"])) in mixed
    assert (manager.shard_channel(shard_of(user_room(1), SHARDS)), emit_message([user_room(1)])) in mixed


# --- subscription lifecycle (real Redis) --------------------------------------------------------

class Instance:
    """A manager under a real python-socketio server (threading), with fake connections."""

    def __init__(self, url: str, prefix: str) -> None:
        self.manager = make_manager(url, prefix)
        self.server = socketio.Server(client_manager=self.manager, async_mode="threading")
        self.manager.initialize()
        self._eio_sids = itertools.count()

    def connect(self, room: str) -> str:
        sid = self.manager.connect(f"eio-{next(self._eio_sids)}", "/")
        self.manager.enter_room(sid, "/", room)
        return sid

    def disconnect(self, sid: str) -> None:
        self.manager.basic_disconnect(sid, "/")


@pytest.fixture
def redis_url() -> str:
    return require_redis()


@pytest.fixture
def prefix() -> str:
    return f"test-sharded-{secrets.token_hex(4)}"


def subscribers(client: redis.Redis, channel: str) -> int:
    return dict(client.pubsub_shardnumsub(channel)).get(channel.encode(), 0)


def test_a_shard_is_subscribed_while_someone_of_it_is_connected(redis_url, prefix):
    client = redis.Redis.from_url(redis_url)
    one = Instance(redis_url, prefix)
    first, second = itertools.islice(rooms_in_shard(3), 2)
    channel = one.manager.shard_channel(3)
    wait_until(lambda: one.manager._pubsub is not None)

    a = one.connect(first)
    assert subscribers(client, channel) == 1  # confirmed before connect returned
    b = one.connect(second)
    c = one.connect(second)
    one.disconnect(a)
    one.disconnect(b)
    assert one.manager.subscribed_shards() == [3]
    assert subscribers(client, channel) == 1
    one.disconnect(c)
    assert one.manager.subscribed_shards() == []
    wait_until(lambda: subscribers(client, channel) == 0)


def test_an_event_published_right_after_a_connect_is_not_lost(redis_url, prefix):
    """Connect, and at once another instance emits to the new connection's room: the
    subscription is confirmed before the connect returns, so every emit arrives."""
    one, two = Instance(redis_url, prefix), Instance(redis_url, prefix)
    wait_until(lambda: one.manager._pubsub is not None and two.manager._pubsub is not None)
    rooms = [user_room(uid) for uid in range(1, 3 * SHARDS)]
    for room in rooms:
        before = one.manager.counters.delivered
        sid = one.connect(room)
        two.server.emit("typing", {"room": room}, to=room)
        wait_until(lambda: one.manager.counters.delivered == before + 1)
        one.disconnect(sid)


def test_an_instance_hosting_nobody_of_a_shard_receives_none_of_its_events(redis_url, prefix):
    one, two, idle = Instance(redis_url, prefix), Instance(redis_url, prefix), Instance(redis_url, prefix)
    wait_until(lambda: all(i.manager._pubsub is not None for i in (one, two, idle)))
    room = next(rooms_in_shard(5))
    idle.connect(next(rooms_in_shard(6)))
    one.connect(room)
    for n in range(20):
        two.server.emit("message", {"id": n}, to=room)
    wait_until(lambda: one.manager.counters.delivered == 20)
    two.server.emit("conversation", {"id": 1}, to=room)  # invalidates caches: everyone gets it
    wait_until(lambda: idle.manager.counters.received == 1)
    wait_until(lambda: one.manager.counters.delivered == 21)
    assert idle.manager.counters.delivered == 0
    assert idle.manager.counters.undeliverable == 1


def test_the_first_connection_waits_for_the_listener_to_subscribe(redis_url, prefix):
    """The listener starts with the server's first connection; that connection's shard
    is subscribed before its connect returns, like every later one."""
    client = redis.Redis.from_url(redis_url)
    one = Instance(redis_url, prefix)  # listener just started, maybe not yet connected
    room = next(rooms_in_shard(2))
    one.connect(room)
    assert subscribers(client, one.manager.shard_channel(2)) == 1


def test_after_a_redis_restart_subscriptions_come_back_with_resync_and_publishing_works(tmp_path, prefix):
    with RedisServer(str(tmp_path)) as server:
        one, two = Instance(server.url, prefix), Instance(server.url, prefix)
        wait_until(lambda: one.manager._pubsub is not None and two.manager._pubsub is not None)
        room = next(rooms_in_shard(4))
        sid = one.connect(room)
        two.server.emit("typing", {}, to=room)
        wait_until(lambda: one.manager.counters.delivered == 1)
        one.manager.cache.remember_conversation(ConversationFacts(7, "group", None, frozenset({1, 2})))

        server.kill()
        wait_until(lambda: one.manager._broken and two.manager._broken)
        server.start()
        # Back: `resync` to the local connections, the shard subscribed again...
        wait_until(lambda: one.manager.counters.delivered == 2 and not one.manager._broken)
        # ...the cached memberships dropped, since changes to them published meanwhile were lost...
        assert one.manager.cache.conversation(7) is None
        wait_until(lambda: not two.manager._broken)
        client = redis.Redis.from_url(server.url)
        wait_until(lambda: subscribers(client, one.manager.shard_channel(4)) == 1)
        # ...and the first emit after the restart is not lost (redis-py replaces the dead pooled connection).
        two.server.emit("typing", {}, to=room)
        wait_until(lambda: one.manager.counters.delivered == 3)
        one.disconnect(sid)


def test_a_connection_gets_a_rooms_events_in_the_order_they_were_published(redis_url, prefix):
    """Message 1 is emitted on instance `one` while `two`'s listener is busy; message 2,
    emitted on `two` afterwards, must not overtake it on `two`'s own connection."""
    one, two = Instance(redis_url, prefix), Instance(redis_url, prefix)
    wait_until(lambda: one.manager._pubsub is not None and two.manager._pubsub is not None)
    room = next(rooms_in_shard(1))
    two.connect(room)
    got: list[list] = []
    two.server._send_eio_packet = lambda eio_sid, packet: got.append(json.loads(packet.data[1:]))
    listener_busy, go_on = threading.Event(), threading.Event()
    deliver = two.manager.before_delivery

    def slow_for_typing(event, data):
        if event == "typing":
            listener_busy.set()
            go_on.wait(10)
        deliver(event, data)

    two.manager.before_delivery = slow_for_typing
    one.server.emit("typing", {}, to=room)
    assert listener_busy.wait(10)
    one.server.emit("message", {"id": 1}, to=room)  # waits behind `typing` in two's listener
    two.server.emit("message", {"id": 2}, to=room)
    time.sleep(0.2)  # room for a local delivery that would overtake message 1
    go_on.set()
    wait_until(lambda: len(got) == 3)
    assert [data.get("id") for _, data in got] == [None, 1, 2]
