"""chat_service: friends, conversations, messages and Socket.IO.

Runs as `gunicorn -k gevent -w 1 ... chat_service.wsgi:app`, one worker per
instance; instances share events through Redis when REDIS_URL is set.
"""

from __future__ import annotations

from flask import Flask
from redis.backoff import NoBackoff
from redis.retry import Retry

from shared.api_docs import register_api_docs
from shared.database import install_database_errors
from shared.errors import register_error_handlers
from shared.logging import install_request_id
from shared.account_deletions import AccountDeletions
from shared.redis_client import connect
from shared.sessions import LocalSessionEnds, SessionRevocations

from .auth_directory import AuthDirectory
from .cache import LookupCache
from .config import Config
from .db import Database, close_session
from .state import EXTENSION, AppState
from .storage import DirectoryStorage


def running_under_gevent() -> bool:
    try:
        from gevent import monkey
    except ImportError:  # pragma: no cover - gevent is a pinned dependency
        return False
    return monkey.is_module_patched("socket")


def create_app(config: Config | None = None) -> Flask:
    from .api import register_api
    from .realtime import create_socketio
    from .realtime.connections import ConnectionRegistry
    from .realtime.deleted_accounts import DeletedAccounts
    from .realtime import packets
    from .realtime.handlers import register_handlers
    from .realtime.maintenance import Maintenance
    from .realtime.session_ends import SessionEnds
    from .realtime.ordering import MessageOrder
    from .realtime.publisher import EventPublisher
    from .services.attachments import remove_files_after_commit
    from .services.presence import LocalPresence, RedisPresence

    config = config or Config.from_env()
    packets.install()
    async_mode = "threading"
    if running_under_gevent():
        # The gunicorn gevent worker patches sockets (covers redis-py and requests);
        # psycopg2 is C code and would block every greenlet on each query without this.
        from psycogreen.gevent import patch_psycopg

        patch_psycopg()
        from .realtime import pings, websocket, writer

        pings.install()
        websocket.install()
        writer.install()
        async_mode = "gevent"

    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=config.max_content_length, JSON_SORT_KEYS=False)
    register_error_handlers(app)
    install_request_id(app)

    cache = LookupCache(friendship_ttl=config.friendship_cache_ttl)
    # A publish waits on it: short timeouts and no retries (MessageOrder waits for nothing while
    # Redis cannot answer).
    order_redis = (connect(config.redis_url, socket_timeout=1, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))
                   if config.redis_url else None)
    order = MessageOrder(order_redis, prefix=config.redis_prefix,
                         created_at=lambda message_id: database.message_created_at(message_id))
    socketio = create_socketio(app, config, async_mode, cache, order)
    connections = ConnectionRegistry()
    presence = (RedisPresence(config.redis_url, config.instance_id, config.presence_ttl,
                              prefix=f"{config.redis_prefix}:presence")
                if config.redis_url else LocalPresence())
    maintenance = Maintenance(app, socketio, connections, interval=min(5.0, config.presence_ttl / 3))
    # Without Redis auth tells this instance of each ended session itself (api/internal.py).
    sessions = (SessionRevocations(connect(config.redis_url, socket_timeout=1, socket_connect_timeout=1),
                                   config.redis_prefix)
                if config.redis_url else LocalSessionEnds())
    database = Database(config.database_url, EventPublisher(socketio, order), cache, config.db_pool_size)
    deleted_accounts = (DeletedAccounts(app, database, AccountDeletions(sessions.redis, config.redis_prefix))
                        if config.redis_url else None)
    storage = DirectoryStorage(config.attachment_dir)
    remove_files_after_commit(database.sessionmaker, storage)
    app.extensions[EXTENSION] = AppState(
        config=config,
        socketio=socketio,
        database=database,
        directory=AuthDirectory(config.auth_service_url, config.auth_timeout),
        presence=presence,
        connections=connections,
        maintenance=maintenance,
        storage=storage,
        sessions=sessions,
        session_ends=(SessionEnds(config.redis_url, socketio, connections, sessions, maintenance.disconnect_soon,
                                  deleted_accounts)
                      if config.redis_url else None),
        deleted_accounts=deleted_accounts,
    )
    app.teardown_appcontext(close_session)
    register_api(app)
    install_database_errors(app, close_session)
    register_api_docs(app, "/api")
    register_handlers(app, socketio)
    return app
