"""What the app builds once at start-up and the blueprints use per request."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from flask import current_app

from .config import Config
from .services.passwords import PasswordHasher
from .services.rate_limit import LoginRateLimiter, RegistrationRateLimiter
from .services.tokens import TokenSettings

EXTENSION = "auth_service"


@dataclass(frozen=True)
class AppState:
    config: Config
    hasher: PasswordHasher
    limiter: LoginRateLimiter
    registrations: RegistrationRateLimiter
    tokens: TokenSettings
    redis: redis.Redis | None


def app_state() -> AppState:
    return current_app.extensions[EXTENSION]
