"""The one place auth_service reads environment variables."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Mapping

from shared import jwt
from shared.config import ConfigError, env_bool, env_int, env_list, env_str, is_production, key_ring_from_env
from shared.redis_client import redis_url_from_env

DEFAULT_DATABASE_URL = "sqlite:///auth.sqlite3"

log = logging.getLogger(__name__)


def database_url_from_env(env: Mapping[str, str] | None = None) -> str:
    """`DATABASE_URL`; the migrations read it without needing the rest of the config."""
    return env_str("DATABASE_URL", DEFAULT_DATABASE_URL, env)


def redis_prefix_from_env(env: Mapping[str, str]) -> str:
    """`REDIS_PREFIX`, the name chat_service uses too. `REDIS_KEY_PREFIX` is its old name
    here (with the `:` separator included), still honoured so deployments keep working."""
    if env.get("REDIS_PREFIX"):
        return env_str("REDIS_PREFIX", "auth", env)
    old = env.get("REDIS_KEY_PREFIX")
    if old:
        log.warning("REDIS_KEY_PREFIX is deprecated; set REDIS_PREFIX (without the trailing ':') instead")
        return old.removesuffix(":")
    return "auth"


@dataclass(frozen=True)
class Config:
    key_ring: jwt.KeyRing
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    # Namespaces every Redis key this service writes (`<prefix>:...`), so stacks can share a Redis.
    redis_prefix: str = "auth"
    # Where ended sessions are recorded: shared with chat_service, which reads them under
    # its REDIS_PREFIX (default "chat"), so the same variable and default name it here.
    sessions_prefix: str = "chat"
    jwt_issuer: str = "chat-auth"
    jwt_audience: str = "chat"
    allowed_origins: tuple[str, ...] = ()
    # Every chat instance, told directly of ended sessions and deleted accounts when there is no
    # Redis to tell them through (chat_notices.py); unused with REDIS_URL.
    chat_service_urls: tuple[str, ...] = ()
    cookie_secure: bool = False
    app_env: str = "development"
    log_level: str = "INFO"
    access_token_ttl: int = 900
    refresh_token_ttl: int = 30 * 24 * 3600
    # Seconds during which a just-spent refresh token may be presented again (services/tokens.py says why).
    refresh_reuse_grace: int = 5
    # Seconds between two attempts to announce deleted accounts that Redis was down for.
    deletion_announce_interval: int = 30
    scrypt_n: int = 2**15
    scrypt_r: int = 8
    scrypt_p: int = 1
    # Login attempts per 15 minutes (see services/rate_limit.py for why these three).
    login_failure_limit_user_address: int = 5
    login_failure_limit_ip: int = 50
    login_failure_limit_user: int = 20
    login_failure_window: int = 900
    login_backoff_max: int = 300
    registration_limit_ip: int = 10
    registration_window: int = 3600
    trust_proxy: int = 1
    max_content_length: int = 64 * 1024

    def __post_init__(self) -> None:
        if self.scrypt_n < 2 or self.scrypt_n & (self.scrypt_n - 1):
            raise ConfigError("PASSWORD_SCRYPT_N must be a power of two greater than 1")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Config":
        source = os.environ if env is None else env
        return cls(
            key_ring=key_ring_from_env(source),
            database_url=database_url_from_env(source),
            redis_url=redis_url_from_env(source),
            redis_prefix=redis_prefix_from_env(source),
            sessions_prefix=env_str("REDIS_PREFIX", "chat", source),
            jwt_issuer=env_str("JWT_ISSUER", "chat-auth", source),
            jwt_audience=env_str("JWT_AUDIENCE", "chat", source),
            allowed_origins=tuple(env_list("ALLOWED_ORIGINS", "", source)),
            chat_service_urls=tuple(url.rstrip("/") for url in env_list("CHAT_SERVICE_URL", "", source)),
            cookie_secure=env_bool("COOKIE_SECURE", False, source),
            app_env="production" if is_production(source) else "development",
            log_level=env_str("LOG_LEVEL", "INFO", source),
            access_token_ttl=env_int("ACCESS_TOKEN_TTL", 900, source, minimum=1),
            refresh_token_ttl=env_int("REFRESH_TOKEN_TTL", 30 * 24 * 3600, source, minimum=1),
            refresh_reuse_grace=env_int("REFRESH_REUSE_GRACE", 5, source, minimum=0),
            deletion_announce_interval=env_int("DELETION_ANNOUNCE_INTERVAL", 30, source, minimum=1),
            scrypt_n=env_int("PASSWORD_SCRYPT_N", 2**15, source, minimum=2),
            scrypt_r=env_int("PASSWORD_SCRYPT_R", 8, source, minimum=1),
            scrypt_p=env_int("PASSWORD_SCRYPT_P", 1, source, minimum=1),
            login_failure_limit_user_address=env_int("LOGIN_FAILURE_LIMIT_USER_ADDRESS", 5, source, minimum=1),
            login_failure_limit_ip=env_int("LOGIN_FAILURE_LIMIT_IP", 50, source, minimum=1),
            login_failure_limit_user=env_int("LOGIN_FAILURE_LIMIT_USER", 20, source, minimum=1),
            login_failure_window=env_int("LOGIN_FAILURE_WINDOW", 900, source, minimum=1),
            login_backoff_max=env_int("LOGIN_BACKOFF_MAX", 300, source, minimum=1),
            registration_limit_ip=env_int("REGISTRATION_LIMIT_IP", 10, source, minimum=1),
            registration_window=env_int("REGISTRATION_WINDOW", 3600, source, minimum=1),
            trust_proxy=env_int("TRUST_PROXY", 1, source, minimum=0),
            max_content_length=env_int("MAX_CONTENT_LENGTH", 64 * 1024, source, minimum=1024),
        )
