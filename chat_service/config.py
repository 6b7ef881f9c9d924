"""Configuration: the one place chat_service reads environment variables."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from typing import Mapping

from shared.config import ConfigError, env_int, env_list, env_str, is_production, key_ring_from_env
from shared.redis_client import is_cluster_url, redis_url_from_env
from shared.jwt import KeyRing

DEFAULT_DATABASE_URL = "sqlite:///chat_service.sqlite3"
SOCKETIO_MANAGERS = ("redis", "sharded")


def _env_float(name: str, default: float, env: Mapping[str, str]) -> float:
    raw = env_str(name, str(default), env)
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, not {raw!r}") from None
    if not value > 0:
        raise ConfigError(f"{name} must be positive")
    return value


def _accel_prefix(raw: str) -> str:
    if raw and not (raw.startswith("/") and raw.endswith("/")):
        raise ConfigError("ATTACHMENT_ACCEL_PREFIX must be a path that starts and ends with '/'")
    return raw


@dataclass(frozen=True)
class Config:
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    # Namespaces the Socket.IO channel and presence keys, so deployments can share one Redis.
    redis_prefix: str = "chat"
    key_ring: KeyRing = field(default_factory=lambda: key_ring_from_env({}))
    jwt_issuer: str = "chat-auth"
    jwt_audience: str = "chat"
    allowed_origins: tuple[str, ...] = ()
    auth_service_url: str = "http://127.0.0.1:8001"
    auth_timeout: float = 2.0
    app_env: str = "development"
    log_level: str = "INFO"
    max_content_length: int = 64 * 1024
    instance_id: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    # Seconds after which a silent (crashed) instance's connections stop counting as online.
    presence_ttl: int = 30
    # PostgreSQL connections per pool (two pools per instance, see db.Database): events
    # beyond it wait for one (no overflow).
    db_pool_size: int = 10
    # Seconds a cached "these two are friends" may outlive a lost invalidation (see cache.py).
    friendship_cache_ttl: float = 5.0
    # Socket.IO keep-alive, seconds: ping every interval, drop after interval + timeout
    # without an answer (both under the gateway's proxy_read_timeout of 120 s).
    ping_interval: int = 60
    ping_timeout: int = 20
    # How Socket.IO events travel between instances (with REDIS_URL): "redis", one channel
    # that every instance reads, or "sharded", channels per shard of user rooms that an
    # instance reads only while it hosts someone of the shard (realtime/sharded_manager.py).
    socketio_manager: str = "sharded"
    # An instance hosting u users reads about min(u, shards) shards, so the saving needs
    # shards well above users per instance; channels cost Redis little.
    socketio_shards: int = 1024
    # Seconds after sending during which the sender may edit a message; 0: never.
    message_edit_window: int = 24 * 3600
    # Attachments: where their files live (every instance, and the gateway, must see the same
    # directory), the largest upload in bytes, and how long an upload never sent with a
    # message is kept (seconds).
    attachment_dir: str = "attachments"
    max_attachment_bytes: int = 10 * 1024 * 1024
    attachment_abandoned_after: int = 24 * 3600
    # Where the gateway serves `attachment_dir` from (an nginx `internal` location, answered
    # with X-Accel-Redirect); empty: chat_service sends the file itself (no gateway in front).
    attachment_accel_prefix: str = ""

    @property
    def production(self) -> bool:
        return self.app_env == "production"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Config":
        source = os.environ if env is None else env
        production = is_production(source)
        allowed_origins = tuple(o.rstrip("/").lower() for o in env_list("ALLOWED_ORIGINS", "", source))
        if production and "*" in allowed_origins:
            raise ConfigError("ALLOWED_ORIGINS must list origins, not '*', in production")
        if production and not env_str("DATABASE_URL", "", source):
            raise ConfigError("DATABASE_URL must be set in production")
        config = cls(
            database_url=env_str("DATABASE_URL", DEFAULT_DATABASE_URL, source),
            redis_url=redis_url_from_env(source),
            redis_prefix=env_str("REDIS_PREFIX", "chat", source),
            key_ring=key_ring_from_env(source),
            jwt_issuer=env_str("JWT_ISSUER", "chat-auth", source),
            jwt_audience=env_str("JWT_AUDIENCE", "chat", source),
            allowed_origins=allowed_origins,
            auth_service_url=env_str("AUTH_SERVICE_URL", "http://127.0.0.1:8001", source).rstrip("/"),
            auth_timeout=_env_float("AUTH_TIMEOUT", 2.0, source),
            app_env="production" if production else "development",
            log_level=env_str("LOG_LEVEL", "INFO", source),
            max_content_length=env_int("MAX_CONTENT_LENGTH", 64 * 1024, source, minimum=1024),
            instance_id=env_str("INSTANCE_ID", f"{socket.gethostname()}-{os.getpid()}", source),
            presence_ttl=env_int("PRESENCE_TTL", 30, source, minimum=3),
            db_pool_size=env_int("DB_POOL_SIZE", 10, source, minimum=1),
            friendship_cache_ttl=_env_float("FRIENDSHIP_CACHE_TTL", 5.0, source),
            ping_interval=env_int("PING_INTERVAL", 60, source, minimum=5),
            ping_timeout=env_int("PING_TIMEOUT", 20, source, minimum=5),
            socketio_manager=env_str("SOCKETIO_MANAGER", "sharded", source).strip().lower(),
            socketio_shards=env_int("SOCKETIO_SHARDS", 1024, source, minimum=1),
            message_edit_window=env_int("MESSAGE_EDIT_WINDOW", 24 * 3600, source, minimum=0),
            attachment_dir=env_str("ATTACHMENT_DIR", "attachments", source),
            max_attachment_bytes=env_int("MAX_ATTACHMENT_BYTES", 10 * 1024 * 1024, source, minimum=1),
            attachment_abandoned_after=env_int("ATTACHMENT_ABANDONED_AFTER", 24 * 3600, source, minimum=60),
            attachment_accel_prefix=_accel_prefix(env_str("ATTACHMENT_ACCEL_PREFIX", "", source)),
        )
        if config.socketio_manager not in SOCKETIO_MANAGERS:
            raise ConfigError(f"SOCKETIO_MANAGER must be one of {', '.join(SOCKETIO_MANAGERS)}")
        if config.redis_url and is_cluster_url(config.redis_url) and config.socketio_manager != "sharded":
            # python-socketio's manager holds one connection to one server: it cannot follow
            # a cluster's nodes (nor its failovers).
            raise ConfigError("SOCKETIO_MANAGER must be 'sharded' with a Redis Cluster (REDIS_URL=redis+cluster://...)")
        if config.ping_interval + config.ping_timeout >= 120:
            raise ConfigError("PING_INTERVAL + PING_TIMEOUT must stay under the gateway's 120 s read timeout")
        return config
