"""Socket.IO: the server object, its handlers, and event publishing."""

from __future__ import annotations

import threading
from typing import Any

import socketio
from cachetools import FIFOCache
from flask import Flask
from flask_socketio import SocketIO

from ..cache import LookupCache
from ..config import Config
from .origins import OriginPolicy


def create_socketio(app: Flask, config: Config, async_mode: str, cache: LookupCache) -> SocketIO:
    """The app's Flask-SocketIO server; joined to the other instances through
    Redis when REDIS_URL is set, so an emit here reaches sockets everywhere."""
    manager = (OnceRedisManager(config.redis_url, channel=f"{config.redis_prefix}:socketio", cache=cache)
               if config.redis_url else OnceManager())
    return SocketIO(
        app,
        async_mode=async_mode,
        client_manager=manager,
        cors_allowed_origins=OriginPolicy(config.allowed_origins),
        max_http_buffer_size=config.max_content_length,
        # Each ping costs the worker a few greenlet switches per socket; with thousands
        # of idle sockets the default 25 s showed in message latency. The gateway's
        # proxy_read_timeout (120 s) must stay above interval + timeout (a long-poll is
        # held that long); clients take both values from the handshake.
        ping_interval=config.ping_interval,
        ping_timeout=config.ping_timeout,
        # A connection's events run one after another in its reader greenlet rather than
        # in a new greenlet each (which showed in the profile); they also keep their order.
        async_handlers=False,
        logger=False,
        engineio_logger=False,
    )


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
