"""Fan-out by recipient: each event goes only to the instances that hold a connection
of one of its recipients.

python-socketio's Redis manager publishes every emit on one channel, so every instance
receives and decodes every event of the cluster, mostly to find nobody to deliver it to.
Here user rooms are spread over `shards` channels (a hash of the room name); an instance
subscribes to a shard's channel while it hosts a connection in one of that shard's
rooms, and an emit is published once per shard its rooms fall in. With Redis >= 7 the
shard channels use sharded pub/sub (SPUBLISH/SSUBSCRIBE), which Redis Cluster keeps on
the node owning the channel's slot instead of broadcasting it to every node; older
servers get plain PUBLISH/SUBSCRIBE on the same channel names.

On a Redis Cluster (REDIS_URL=redis+cluster://...) every channel is sharded, the
broadcast one included, so each lives on the node that owns its slot and moves with it
on a failover; the listener reads one connection per node (`_cluster_messages`), and
after a broken connection asks the cluster for its new shape before subscribing again.

One broadcast channel remains for what every instance must see: emits to rooms that are
not sharded or to everyone, the lookup cache's invalidating events (`everyone_events`),
and python-socketio's own control messages (remote disconnects, acks).

Delivery keeps the Redis manager's guarantees: an emit reaches local connections when it
comes back from the queue (`QueueFirstManager`), or at once if it could not be published;
each message reaches a connection at most once (`OnceManager`); a break in the subscription
is followed by `resync` to every local connection. A connection's shard subscription is
confirmed by Redis before its connect handler returns, so every event published after the
client sees itself connected reaches it -- its own instance's emits included, which now
depend on that subscription too.
"""

from __future__ import annotations

import logging
import selectors
import threading
import time
import zlib
from collections import Counter
from typing import Any, Callable, Iterable, Iterator

import redis
import socketio
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.cluster import RedisCluster

from shared.redis_client import Publisher, connect, follow_failover

from ..cache import LookupCache
from .managers import RESYNC_EVENT, OnceManager, QueueFirstManager

log = logging.getLogger(__name__)


def shard_of(room: str, shards: int) -> int:
    """The shard a room's events travel on: stable across processes and restarts."""
    return zlib.crc32(room.encode()) % shards


class ShardedRedisManager(QueueFirstManager, socketio.PubSubManager, OnceManager):
    name = "sharded"

    RESUBSCRIBE_INTERVAL = 0.5  # seconds between attempts while Redis is unreachable
    SUBSCRIBE_TIMEOUT = 5.0  # seconds a connect waits for Redis to confirm its shard's subscription
    # Seconds the cluster listener waits on its node connections before looking for new
    # ones: a shard subscription on a node it had no connection to waits this long at most
    # for its confirmation to be read.
    CLUSTER_WAIT = 0.05
    # An event for the user rooms of more shards than this (a big group's message) goes once
    # on the broadcast channel instead of once per shard: a 100-member group's message was
    # ~95 publishes, each received and decoded again, 25.8 ms of the sender's CPU against
    # the echo's 7.3 ms (docs/benchmarks.md, growth table). Every instance then decodes it
    # once, as with the single-channel manager, which is cheap next to 95 copies.
    BROADCAST_ABOVE_SHARDS = 8

    def __init__(self, url: str, *, prefix: str, shards: int, cache: LookupCache,
                 sharded_room: Callable[[str], bool], everyone_events: Iterable[str] = ()) -> None:
        super().__init__(channel=f"{prefix}:socketio:all")
        self.shards = shards
        self.shard_prefix = f"{prefix}:socketio:shard:"
        self.cache = cache
        self.sharded_room = sharded_room
        self.everyone_events = frozenset(everyone_events)
        # Fail fast and never reconnect silently (as OnceRedisManager): a broken
        # subscription must be seen, and a publish happens before the sender's ack.
        self.redis = connect(url, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))
        self.publisher = Publisher(self.redis)
        self._cluster = isinstance(self.redis, RedisCluster)
        # Decided on first contact with a single server; a cluster needs it (Redis >= 7).
        self._sharded_pubsub: bool | None = True if self._cluster else None
        # Local rooms per shard (a shard is subscribed while it has one), guarded with the
        # subscription itself so that subscribe/unsubscribe go out in the order counts change.
        self._rooms_per_shard: Counter[int] = Counter()
        self._lock = threading.RLock()
        self._pubsub: Any = None  # the listener's subscription while it is up
        self._broken = False  # the subscription broke and is not back yet
        self._confirmations: dict[str, threading.Event] = {}
        # Every payload starts with its sender's host id: this instance's own emits come
        # back on the shards it shares with their recipients and are delivered then
        # (`own_emit_back`). Host ids are all 32 hex
        # digits, so every tag has the same length.
        self._sender_tag = f"{self.host_id}:"
        self._own_prefix = self._sender_tag.encode()

    # --- addressing ------------------------------------------------------------------------

    def shard_channel(self, shard: int) -> str:
        return f"{self.shard_prefix}{shard}"

    def routes(self, message: dict) -> list[tuple[str | None, dict]]:
        """(shard channel or None for the broadcast channel, message) pairs to publish."""
        if message.get("method") != "emit" or message.get("event") in self.everyone_events:
            return [(None, message)]
        room = message.get("room")
        if room is None:
            return [(None, message)]
        rooms = [room] if isinstance(room, str) else list(room)
        by_shard: dict[int, list[str]] = {}
        others = []
        for name in rooms:
            if isinstance(name, str) and self.sharded_room(name):
                by_shard.setdefault(shard_of(name, self.shards), []).append(name)
            else:
                others.append(name)
        if len(by_shard) > self.BROADCAST_ABOVE_SHARDS:
            return [(None, message)]
        routes: list[tuple[str | None, dict]] = [(self.shard_channel(shard), {**message, "room": names})
                                                 for shard, names in by_shard.items()]
        if others:
            routes.append((None, {**message, "room": others}))
        return routes

    def _uses_sharded_pubsub(self) -> bool:
        if self._sharded_pubsub is None:
            version = str(self.redis.info("server").get("redis_version", "0"))
            self._sharded_pubsub = int(version.split(".")[0]) >= 7
        return self._sharded_pubsub

    def _publish_to_queue(self, data: dict) -> None:
        sharded = self._uses_sharded_pubsub()
        commands = []
        for channel, message in self.routes(data):
            payload = self._sender_tag + self.json.dumps(message)
            if channel is None and not self._cluster:
                commands.append(("PUBLISH", self.channel, payload))
            elif sharded:
                commands.append(("SPUBLISH", channel or self.channel, payload))
            else:
                commands.append(("PUBLISH", channel, payload))
        self.publisher.publish_all([*commands, *self.order_commands(data)])

    # --- subscription lifecycle ------------------------------------------------------------

    def basic_enter_room(self, sid, namespace, room, eio_sid=None):
        new_room = room not in self.rooms.get(namespace, {})
        super().basic_enter_room(sid, namespace, room, eio_sid=eio_sid)
        if isinstance(room, str) and self.sharded_room(room):
            shard = shard_of(room, self.shards)
            if new_room:
                self._room_opened(shard)
            # Whoever opened the shard may still be waiting for Redis: so does this one.
            self._wait_for_subscription(shard)

    def basic_leave_room(self, sid, namespace, room):
        was_open = room in self.rooms.get(namespace, {})
        super().basic_leave_room(sid, namespace, room)
        if was_open and room not in self.rooms.get(namespace, {}) and isinstance(room, str) \
                and self.sharded_room(room):
            self._room_closed(shard_of(room, self.shards))

    def subscribed_shards(self) -> list[int]:
        with self._lock:
            return sorted(shard for shard, rooms in self._rooms_per_shard.items() if rooms)

    def _room_opened(self, shard: int) -> None:
        channel = self.shard_channel(shard)
        with self._lock:
            self._rooms_per_shard[shard] += 1
            if self._rooms_per_shard[shard] > 1:
                return  # already subscribed (or being subscribed)
            self._confirmations[channel] = threading.Event()
            if self._pubsub is not None:
                try:
                    self._subscribe(self._pubsub, [channel])
                except redis.RedisError as error:
                    log.warning("could not subscribe to a shard: %s", error.__class__.__name__)
            # Without a subscription the listener is starting (first connection) or waiting
            # for Redis: it subscribes to every wanted shard, this one included (and after
            # an outage sends `resync`).

    def _wait_for_subscription(self, shard: int) -> None:
        """Until Redis has confirmed the shard's subscription, so that nothing published
        after this connection's connect handler returns can miss it."""
        confirmed = self._confirmations.get(self.shard_channel(shard))
        if confirmed is None or confirmed.is_set() or self._broken:
            return
        if not confirmed.wait(self.SUBSCRIBE_TIMEOUT):
            log.warning("shard subscription not confirmed in time")

    def _room_closed(self, shard: int) -> None:
        with self._lock:
            self._rooms_per_shard[shard] -= 1
            if self._rooms_per_shard[shard] > 0:
                return
            del self._rooms_per_shard[shard]
            channel = self.shard_channel(shard)
            self._confirmations.pop(channel, None)
            if self._pubsub is None:
                return
            try:
                if self._uses_sharded_pubsub():
                    self._pubsub.sunsubscribe(channel)
                else:
                    self._pubsub.unsubscribe(channel)
            except redis.RedisError as error:
                # A subscription too many costs only the events of a shard nobody here needs.
                log.warning("could not unsubscribe from a shard: %s", error.__class__.__name__)

    def _subscribe(self, pubsub: Any, channels: list[str]) -> None:
        if not channels:
            return
        if self._uses_sharded_pubsub():
            pubsub.ssubscribe(*channels)
        else:
            pubsub.subscribe(*channels)

    # --- listening -------------------------------------------------------------------------

    def _listen(self) -> Iterator[Any]:
        return self.counters.counted(self._queue_messages())

    def _queue_messages(self) -> Iterator[Any]:
        while True:
            pubsub = None
            try:
                if self._broken:
                    follow_failover(self.redis)
                pubsub = self.redis.pubsub()
                if self._cluster:
                    pubsub.ssubscribe(self.channel)
                else:
                    pubsub.subscribe(self.channel)  # connects; the broadcast channel first
                with self._lock:
                    self._pubsub = pubsub
                    wanted = [self.shard_channel(shard) for shard in self._rooms_per_shard]
                    self._subscribe(pubsub, wanted)
                if self._broken:
                    self._broken = False
                    # Membership changes published meanwhile never reached this cache.
                    self.cache.forget_conversations()
                    log.warning("queue subscription is back; asking local clients to resynchronise")
                    self.emit(RESYNC_EVENT, {}, namespace="/", ignore_queue=True)
                for message in (self._cluster_messages(pubsub) if self._cluster else pubsub.listen()):
                    kind = message.get("type")
                    if kind in ("message", "smessage"):
                        data = message["data"]
                        body = data[len(self._own_prefix):]
                        yield self.own_emit_back(self.json.loads(body)) if data.startswith(self._own_prefix) else body
                    elif kind in ("subscribe", "ssubscribe"):
                        channel = message["channel"]
                        confirmed = self._confirmations.get(
                            channel.decode() if isinstance(channel, bytes) else channel)
                        if confirmed is not None:
                            confirmed.set()
            except Exception as error:
                if not self._broken:
                    log.error("queue subscription lost: %s", error.__class__.__name__)
                with self._lock:
                    self._pubsub = None
                    self._broken = True
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except Exception:
                        pass  # the connection is gone already
                time.sleep(self.RESUBSCRIBE_INTERVAL)

    def _cluster_messages(self, pubsub: Any) -> Iterator[dict]:
        """A cluster's sharded subscriptions hold one connection per node. redis-py's
        `get_sharded_message(timeout=t)` waits on them one after another, so an event on
        one node waits while another is watched: measured with 3 nodes and an event every
        13 ms, 375 ms median (p90 1.6 s), long enough for a message relayed here to arrive
        after a later one delivered locally. Here it takes whatever any connection has
        buffered or waiting, and otherwise waits on all of them at once (0.75 ms median,
        p90 1.0 ms in the same measurement)."""
        while True:
            message = pubsub.get_sharded_message(timeout=0)
            if message is not None:
                yield message
                continue
            with selectors.DefaultSelector() as selector:
                for node_pubsub in list(pubsub.node_pubsub_mapping.values()):
                    connection = node_pubsub.connection
                    # redis-py offers no public handle on a connection's socket.
                    if connection is not None and connection._sock is not None:
                        selector.register(connection._sock, selectors.EVENT_READ)
                selector.select(self.CLUSTER_WAIT)
