"""Socket.IO client managers: delivery to this instance's connections, at most once per message."""

from __future__ import annotations

import threading
from typing import Any

import socketio
from cachetools import FIFOCache

from ..cache import LookupCache


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


class OnceManager(socketio.Manager):
    """Delivery to this instance's connections: each message at most once per connection.

    Used alone without Redis. With Redis it sits after python-socketio's pub/sub manager
    in `OnceRedisManager`'s method order: that manager publishes an emit and then hands
    it, and every emit arriving from other instances, to `Manager.emit` (through
    `super()`) for local delivery -- which is this `emit`. So every delivery passes here
    through the public emit signature, already decoded, without touching the queue's
    message format.
    """

    def __init__(self) -> None:
        super().__init__()
        self.delivered = DeliveredMessages()

    def emit(self, event, data, namespace, room=None, skip_sid=None, callback=None, to=None, **kwargs):
        room = to or room
        self.before_delivery(event, data)
        skip = self.delivered.skip_sids(self, event, data, namespace, room, skip_sid)
        return super().emit(event, data, namespace, room=room, skip_sid=skip, callback=callback, **kwargs)

    def before_delivery(self, event: str, data: Any) -> None:
        """Called for every event about to reach this instance's connections."""


class OnceRedisManager(socketio.RedisManager, OnceManager):
    """Instances joined by Redis: each delivers what arrives on the channel (its own
    emits included) at most once per local connection, and drops from its lookup
    cache what the events say has changed on any instance."""

    def __init__(self, url: str, channel: str, cache: LookupCache) -> None:
        super().__init__(url, channel=channel)
        self.cache = cache

    def before_delivery(self, event: str, data: Any) -> None:
        if event != "message":
            self.cache.apply_event(event, data)
