"""What the app builds once at start-up and the blueprints use per request."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from flask import current_app, request

from shared.account_deletions import AccountDeletions
from shared.request_auth import Identity, authenticate
from shared.sessions import SessionRevocations

from .chat_notices import NoticedAccountDeletions, NoticedSessionEnds
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
    # Without Redis: auth's database, and notices to chat (chat_notices.py).
    sessions: SessionRevocations | NoticedSessionEnds | None
    # None without Redis and without CHAT_SERVICE_URL: no chat instance to tell.
    deletions: AccountDeletions | NoticedAccountDeletions | None = None


def app_state() -> AppState:
    return current_app.extensions[EXTENSION]


def caller() -> Identity:
    """Who the request's access token says is calling (401 if none, invalid or its session ended)."""
    state = app_state()
    return authenticate(request, state.tokens.ring, issuer=state.config.jwt_issuer,
                        audience=state.config.jwt_audience, allowed_origins=state.config.allowed_origins,
                        sessions=state.sessions)
