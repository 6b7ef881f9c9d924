"""Socket.IO client managers: delivery to this instance's connections, at most once per message."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any, Iterable, Iterator

import socketio
from cachetools import FIFOCache
from redis.backoff import NoBackoff
from redis.retry import Retry

from shared.redis_client import Publisher

from ..cache import LookupCache
from .ordering import MessageOrder

log = logging.getLogger(__name__)

# Sent to every local connection when this instance's queue subscription is back after a
# break: whatever other instances published meanwhile never reached it, so clients fetch
# what they missed from the database (history `after=`, the conversation list).
RESYNC_EVENT = "resync"


class DeliveredMessages:
    """Which `message` events this instance has sent to which of its connections.

    A resent message (same client_id, its first ack lost) is published again, because
    its first publish may have died with the instance between commit and publish;
    connections that already had it must not get it twice.
    """

    def __init__(self, limit: int = 100_000) -> None:
        # (connection, message id) pairs remembered, oldest forgotten first.
        self._sent: FIFOCache[tuple[str, int], None] = FIFOCache(limit)
        self._lock = threading.Lock()

    def skip_sids(self, manager: socketio.Manager, event: str, payload: Any, namespace: str | None,
                  room: Any, skip_sid: Any) -> list:
        """`skip_sid` plus the recipients that already had this message."""
        skip = list(skip_sid) if isinstance(skip_sid, list) else [skip_sid]
        if event != "message" or not isinstance(payload, dict) or "id" not in payload:
            return skip
        with self._lock:
            for sid, _ in manager.get_participants(namespace or "/", room):
                key = (sid, payload["id"])
                if key in self._sent:
                    skip.append(sid)
                else:
                    self._sent[key] = None
        return skip


class QueueCounters:
    """What the queue costs this instance: events that arrived on it, events handed to
    local connections, and the CPU spent on arrivals that had nobody here to go to.

    Cheap enough to keep always on (a few integer additions and one clock read per
    event); shown on /healthz and read by the fan-out bench.
    """

    def __init__(self, manager_name: str) -> None:
        self.manager = manager_name
        self.received = 0  # events that came off the queue (this instance's own included)
        self.delivered = 0  # events (from the queue, or from here if unpublished) that had a local recipient
        self.connections_addressed = 0  # local connections those events were addressed to
        self.undeliverable = 0  # queue events with no local recipient
        self.undeliverable_cpu = 0.0  # seconds of CPU spent receiving and decoding those

    def delivering(self, recipients: int) -> None:
        if recipients:
            self.delivered += 1
            self.connections_addressed += recipients

    def counted(self, queue_messages: Iterable[Any]) -> Iterator[Any]:
        """Pass the queue's messages through, timing each one's handling (which happens
        between one `yield` and the next)."""
        for message in queue_messages:
            start = time.thread_time()
            delivered_before = self.delivered
            yield message
            self.received += 1
            if self.delivered == delivered_before:
                self.undeliverable += 1
                self.undeliverable_cpu += time.thread_time() - start

    def to_dict(self) -> dict[str, Any]:
        return {"manager": self.manager, "received": self.received, "delivered": self.delivered,
                "connections_addressed": self.connections_addressed, "undeliverable": self.undeliverable,
                "undeliverable_cpu_seconds": round(self.undeliverable_cpu, 6)}


class OnceManager(socketio.Manager):
    """Delivery to this instance's connections: each message at most once per connection.

    Used alone without Redis. With Redis it sits after python-socketio's pub/sub manager
    in `OnceRedisManager`'s method order: that manager hands every emit arriving on the
    queue (this instance's own included, see `QueueFirstManager`) to `Manager.emit` (through
    `super()`) for local delivery -- which is this `emit`. So every delivery passes here
    through the public emit signature, already decoded, without touching the queue's
    message format.
    """

    name = "local"
    cache: LookupCache | None = None  # set by the managers joining instances
    order: MessageOrder | None = None  # set by create_manager

    def __init__(self) -> None:
        super().__init__()
        self.delivered = DeliveredMessages()
        self.counters = QueueCounters(self.name)

    def emit(self, event, data, namespace, room=None, skip_sid=None, callback=None, to=None, **kwargs):
        room = to or room
        self.before_delivery(event, data)
        self.counters.delivering(self._local_recipients(namespace or "/", room))
        skip = self.delivered.skip_sids(self, event, data, namespace, room, skip_sid)
        return super().emit(event, data, namespace, room=room, skip_sid=skip, callback=callback, **kwargs)

    def before_delivery(self, event: str, data: Any) -> None:
        """Called for every event about to reach this instance's connections: with other
        instances, drop from the lookup cache what their events say has changed."""
        if event == "message":
            if self.order is not None:
                self.order.published(data)  # another instance's, or this one's, back from the queue
        elif self.cache is not None:
            self.cache.apply_event(event, data)

    def _local_recipients(self, namespace: str, room: Any) -> int:
        """How many local connections the rooms hold (an upper bound: no skips, no overlap)."""
        rooms = self.rooms.get(namespace)
        if not rooms:
            return 0
        if isinstance(room, (list, tuple)):
            return sum(len(rooms[r]) for r in room if r in rooms)
        return len(rooms[room]) if room in rooms else 0


class QueueFirstManager:
    """Delivery through the queue first, for the pub/sub managers joining instances.

    python-socketio delivers an emit to this instance's connections and then publishes
    it. A connection on another instance could then get message N+1 (handled there and
    delivered at once) before message N (handled here, acknowledged, still waiting in
    that instance's listener). Here an emit is only published; this instance delivers it
    when it comes back from the queue, like everyone else's, so every connection gets
    the events of a channel in Redis's order -- and a recipient's events all travel on
    one channel (its user room's shard, or the one channel). This holds for every event,
    not only `message`: an edit, a deletion or a reaction must not overtake its message.

    If the publish fails (Redis down), the emit is delivered locally at once: local
    connections still get it; the others catch up with `resync`. Emits with a callback
    keep python-socketio's local-first path (their acks are tied to this host id).
    """

    host_id: str
    order: MessageOrder | None
    # Stands in for this instance's host id on its own emits coming back from the queue,
    # which python-socketio's listener would otherwise drop as already delivered.
    QUEUED_OWN_EMIT = "queued-own-emit"

    def _publish_to_queue(self, message: dict) -> None:
        """Publish, raising if Redis could not take it."""
        raise NotImplementedError

    def order_commands(self, message: dict) -> list[tuple]:
        """Commands that follow a publish in its round trip (ordering.MessageOrder's mark)."""
        return self.order.mark_commands(message) if self.order is not None else []

    def _handle_emit(self, message: dict) -> None:
        if self._queue_first(message):
            return  # delivered when it comes back from the queue, or by `_publish` if that fails
        super()._handle_emit(message)  # type: ignore[misc]

    def _publish(self, message: dict) -> None:
        try:
            self._publish_to_queue(message)
        except Exception as error:
            log.error("could not publish to the queue: %s", error.__class__.__name__)
            if self._queue_first(message):
                super()._handle_emit(message)  # type: ignore[misc]

    def _queue_first(self, message: dict) -> bool:
        return (message.get("method") == "emit" and message.get("host_id") == self.host_id
                and message.get("callback") is None)

    def own_emit_back(self, message: dict) -> dict:
        """One of this instance's messages, back from the queue and decoded: an emit to
        deliver here, or {} (control messages were handled here before publishing)."""
        if not self._queue_first(message):
            return {}
        return {**message, "host_id": self.QUEUED_OWN_EMIT}


class OnceRedisManager(QueueFirstManager, socketio.RedisManager, OnceManager):
    """Instances joined by Redis: each delivers what arrives on the channel (its own
    emits included) at most once per local connection, and drops from its lookup
    cache what the events say has changed on any instance.

    While Redis is down an instance still delivers its own emits to its own
    connections (`QueueFirstManager` delivers them when their publish fails); what the
    others published is lost for it, so when its subscription comes back it tells its
    connections to resynchronise (`resync`).
    """

    # Seconds between attempts to subscribe again: python-socketio doubles its wait up
    # to 60 s, which would leave clients waiting long after Redis has returned.
    RESUBSCRIBE_INTERVAL = 0.5

    def __init__(self, url: str, channel: str, cache: LookupCache) -> None:
        # No silent reconnects inside redis-py: a subscription that broke, however
        # briefly, must be seen here (to resynchronise). And fail fast while Redis is
        # down: a publish happens before the sender's ack.
        super().__init__(url, channel=channel,
                         redis_options={"socket_connect_timeout": 1, "retry": Retry(NoBackoff(), 0)})
        self.cache = cache
        self.publisher: Publisher | None = None  # made with each client (`_redis_connect`)

    def _redis_listen_with_retries(self):
        broken = False
        while True:
            try:
                self._redis_connect()
                self.pubsub.subscribe(self.channel)
                if broken:
                    broken = False
                    # Membership changes published meanwhile never reached this cache.
                    self.cache.forget_conversations()
                    log.warning("queue subscription is back; asking local clients to resynchronise")
                    self.emit(RESYNC_EVENT, {}, namespace="/", ignore_queue=True)
                yield from self.pubsub.listen()
            except Exception as error:
                if not broken:
                    log.error("queue subscription lost: %s", error.__class__.__name__)
                broken = True
                time.sleep(self.RESUBSCRIBE_INTERVAL)

    def _redis_connect(self) -> None:
        super()._redis_connect()
        if self.publisher is not None:
            self.publisher.close()
        self.publisher = Publisher(self.redis)

    def _publish_to_queue(self, message: dict) -> None:
        if not self.connected:
            self._redis_connect()
        try:
            self.publisher.publish_all([("PUBLISH", self.channel, self.json.dumps(message)),
                                        *self.order_commands(message)])
        except Exception:
            self.connected = False  # connect again next time
            raise

    def _listen(self):
        for message in self.counters.counted(super()._listen()):
            # Decoded here (python-socketio would decode it anyway) to find this instance's own.
            try:
                data = self.json.loads(message)
            except ValueError:
                continue
            if not isinstance(data, dict):
                continue
            yield self.own_emit_back(data) if data.get("host_id") == self.host_id else data
