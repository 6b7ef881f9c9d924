"""web_frontend settings, read from environment variables in this one place."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

from shared.config import ConfigError, env_bool, env_int, env_list, env_str, is_production, require_secret


@dataclass(frozen=True)
class Config:
    auth_service_url: str
    # Tried in order, the next one only when the one before could not be reached: the local
    # stack lists every chat instance here; a deployment names one that resolves to every replica.
    chat_service_urls: tuple[str, ...]
    secret_key: str
    cookie_secure: bool
    request_timeout: float
    app_env: str
    log_level: str = "INFO"
    # Proxies (the gateway) whose X-Forwarded-For is trusted to name the browser's address.
    trust_proxy: int = 1

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Config":
        source = os.environ if env is None else env
        timeout = env_str("REQUEST_TIMEOUT", "5", source)
        try:
            request_timeout = float(timeout)
        except ValueError:
            raise ConfigError(f"REQUEST_TIMEOUT must be a number of seconds, not {timeout!r}") from None
        if request_timeout <= 0:
            raise ConfigError("REQUEST_TIMEOUT must be positive")
        return cls(
            auth_service_url=env_str("AUTH_SERVICE_URL", "http://127.0.0.1:8001", source).rstrip("/"),
            chat_service_urls=tuple(env_list("CHAT_SERVICE_URL", "http://127.0.0.1:8101", source)),
            secret_key=require_secret("SECRET_KEY", source),
            cookie_secure=env_bool("COOKIE_SECURE", is_production(source), source),
            request_timeout=request_timeout,
            app_env=env_str("APP_ENV", "development", source).lower(),
            log_level=env_str("LOG_LEVEL", "INFO", source),
            trust_proxy=env_int("TRUST_PROXY", 1, source, minimum=0),
        )

    @property
    def is_production(self) -> bool:
        return self.app_env == "production"


