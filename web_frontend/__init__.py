"""web_frontend: the browser chat, server-rendered pages over auth_service and chat_service.

Pages are rendered from backend calls made with the browser's tokens; the live
parts (messages, typing, presence) run in the browser over Socket.IO.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from shared.errors import install_body_discard
from shared.logging import configure_logging, install_request_id

from . import assets, backends, csrf, errors
from .clients.auth import AuthClient
from .clients.chat import ChatClient
from .config import Config
from .state import EXTENSION, AppState


def create_app(config: Config | None = None) -> Flask:
    config = config or Config.from_env()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=config.secret_key,
        SESSION_COOKIE_NAME="web_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.cookie_secure,
        PERMANENT_SESSION_LIFETIME=timedelta(days=30),
    )
    configure_logging("web_frontend", config.log_level)
    if config.trust_proxy:
        # request.remote_addr becomes the browser's address, which is what the
        # backends must see (auth rate-limits failed logins per client address).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=config.trust_proxy)
    app.extensions[EXTENSION] = AppState(
        config=config,
        auth=AuthClient((config.auth_service_url,), config.request_timeout),
        chat=ChatClient(config.chat_service_urls, config.request_timeout),
    )

    install_request_id(app)
    install_body_discard(app)
    csrf.install(app)
    backends.install(app)
    assets.install(app)
    errors.register(app)

    from .views import accounts, chat, friends, health, settings

    app.register_blueprint(accounts.bp)
    app.register_blueprint(chat.bp)
    app.register_blueprint(friends.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(settings.bp)
    return app
