"""Socket.IO: the server object, its handlers, and event publishing."""

from __future__ import annotations

import socketio
from flask import Flask
from flask_socketio import SocketIO

from ..cache import INVALIDATING_EVENTS, LookupCache
from ..config import Config
from .incoming_packets import EventPacket, close_on_unreadable
from .managers import OnceManager, OnceRedisManager
from .ordering import MessageOrder
from .origins import OriginPolicy
from .rooms import is_user_room
from .sharded_manager import ShardedRedisManager


def create_manager(config: Config, cache: LookupCache, order: MessageOrder) -> socketio.Manager:
    manager: OnceManager
    if not config.redis_url:
        manager = OnceManager()
    elif config.socketio_manager == "sharded":
        manager = ShardedRedisManager(config.redis_url, prefix=config.redis_prefix, shards=config.socketio_shards,
                                      cache=cache, sharded_room=is_user_room, everyone_events=INVALIDATING_EVENTS)
    else:
        manager = OnceRedisManager(config.redis_url, channel=f"{config.redis_prefix}:socketio", cache=cache)
    manager.order = order
    return manager


# A Socket.IO message may be this many times the event limit (MAX_CONTENT_LENGTH): an event between the
# two is read far enough to be answered `payload_too_large` on a socket that stays open; a larger one
# closes the WebSocket (1009) or is a 413 on long-polling. The gateway's /socket.io/ body limit is the
# same (128k for the default 64 KiB), so a long-polling client gets the same answers through it.
TRANSPORT_LIMIT_FACTOR = 2


def create_socketio(app: Flask, config: Config, async_mode: str, cache: LookupCache,
                    order: MessageOrder) -> SocketIO:
    """The app's Flask-SocketIO server; joined to the other instances through
    Redis when REDIS_URL is set, so an emit here reaches sockets everywhere."""
    server = SocketIO(
        app,
        async_mode=async_mode,
        client_manager=create_manager(config, cache, order),
        cors_allowed_origins=OriginPolicy(config.allowed_origins),
        max_http_buffer_size=TRANSPORT_LIMIT_FACTOR * config.max_content_length,
        # Every event a client sends is answered (incoming_packets.py).
        serializer=EventPacket.limited_to(config.max_content_length),
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
    close_on_unreadable(server.server)
    return server
