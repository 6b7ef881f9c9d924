"""auth_service: users, passwords, access tokens and rotating refresh tokens."""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from shared.api_docs import register_api_docs
from shared.database import install_database_errors
from shared.errors import register_error_handlers
from shared.logging import configure_logging, install_request_id
from shared.account_deletions import AccountDeletions
from shared.notices import NoticeSender
from shared.redis_client import connect
from shared.sessions import SessionRevocations

from .chat_notices import NoticedAccountDeletions, NoticedSessionEnds
from .config import Config
from .db import Database, close_session
from .services.passwords import PasswordHasher, ScryptParams
from .services.rate_limit import (LoginLimits, LoginRateLimiter, MemoryCounterStore, RedisCounterStore,
                                  RegistrationRateLimiter)
from .services.tokens import TokenSettings
from .state import EXTENSION, AppState

def _announcers(config: Config, redis_client) -> dict:
    """How ended sessions and deleted accounts reach chat: through Redis, or without it by signed
    notices to each chat instance (chat_notices.py)."""
    if redis_client is not None:
        # Under the prefix chat reads ended sessions from, which it also reads deletions from.
        return {"sessions": SessionRevocations(redis_client, config.sessions_prefix, config.access_token_ttl),
                "deletions": AccountDeletions(redis_client, config.sessions_prefix)}
    sender = (NoticeSender(config.chat_service_urls, config.key_ring, issuer=config.jwt_issuer)
              if config.chat_service_urls else None)
    return {"sessions": NoticedSessionEnds(sender, config.access_token_ttl),
            "deletions": NoticedAccountDeletions(sender) if sender is not None else None}


def create_app(config: Config | None = None) -> Flask:
    """The application. Without a config it reads the environment and, being the
    process's entry point, also sets up JSON logging."""
    if config is None:
        config = Config.from_env()
        configure_logging("auth_service", config.log_level)

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = config.max_content_length
    if config.trust_proxy:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=config.trust_proxy, x_proto=config.trust_proxy,
                                x_host=config.trust_proxy)

    Database(config.database_url).init_app(app)
    redis_client = (connect(config.redis_url, socket_timeout=2, socket_connect_timeout=2)
                    if config.redis_url else None)
    store = RedisCounterStore(redis_client) if redis_client is not None else MemoryCounterStore()
    app.extensions[EXTENSION] = AppState(
        config=config,
        hasher=PasswordHasher(ScryptParams(config.scrypt_n, config.scrypt_r, config.scrypt_p)),
        limiter=LoginRateLimiter(store, LoginLimits(
            per_account_and_address=config.login_failure_limit_user_address,
            per_address=config.login_failure_limit_ip, per_account=config.login_failure_limit_user,
            window=config.login_failure_window, backoff_max=config.login_backoff_max),
            prefix=config.redis_prefix),
        registrations=RegistrationRateLimiter(store, limit=config.registration_limit_ip,
                                              window=config.registration_window, prefix=config.redis_prefix),
        tokens=TokenSettings(ring=config.key_ring, issuer=config.jwt_issuer, audience=config.jwt_audience,
                             access_ttl=config.access_token_ttl, refresh_ttl=config.refresh_token_ttl,
                             reuse_grace=config.refresh_reuse_grace),
        redis=redis_client,
        **_announcers(config, redis_client),
    )

    register_error_handlers(app)
    install_request_id(app)

    from .api import register_blueprints

    register_blueprints(app)
    install_database_errors(app, close_session)
    register_api_docs(app, "/auth")
    return app
