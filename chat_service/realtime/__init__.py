"""Socket.IO: the server object, its handlers, and event publishing."""

from __future__ import annotations

from flask import Flask
from flask_socketio import SocketIO

from ..config import Config
from .origins import OriginPolicy


def create_socketio(app: Flask, config: Config, async_mode: str) -> SocketIO:
    """The app's Flask-SocketIO server; joined to the other instances through
    Redis when REDIS_URL is set, so an emit here reaches sockets everywhere."""
    return SocketIO(
        app,
        async_mode=async_mode,
        message_queue=config.redis_url,
        channel=f"{config.redis_prefix}:socketio",
        cors_allowed_origins=OriginPolicy(config.allowed_origins),
        max_http_buffer_size=config.max_content_length,
        logger=False,
        engineio_logger=False,
    )
