"""Engine and sessions (SQLAlchemy 2.0); the session hands queued events (events.py) to
the publisher after it commits, and drops them on rollback."""

from __future__ import annotations

from datetime import datetime

from flask import g
from sqlalchemy import create_engine, event, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from shared.database import normalize_database_url

from .cache import SESSION_KEY as CACHE_SESSION_KEY
from .cache import LookupCache
from .events import PENDING_EVENTS, Publisher
from .message_writer import MessageWriter
from .models import Message

MESSAGE_WRITER = "message_writer"


def message_writer(session: Session) -> MessageWriter | None:
    """The process's writer of messages (PostgreSQL only; see message_writer.py)."""
    return session.info.get(MESSAGE_WRITER)


def create_db_engine(url: str, pool_size: int = 10, *, autocommit: bool = False) -> Engine:
    url = normalize_database_url(url)
    if url.startswith("sqlite"):
        # One connection per process: greenlets then queue for it in the pool, which
        # gevent makes cooperative. Several connections would meet in SQLite's own
        # lock, whose busy-wait blocks the whole gevent hub, including the greenlet
        # holding the lock, until the timeout gives up with "database is locked".
        # An in-memory database lives in its connection: SQLAlchemy's default pool for it
        # (one connection per thread) takes no queue settings.
        in_memory = make_url(url).database in (None, "", ":memory:")
        queue = {} if in_memory else {"pool_size": 1, "max_overflow": 0, "pool_timeout": 30}
        engine = create_engine(url, **queue, connect_args={"check_same_thread": False, "timeout": 10})
        _configure_sqlite(engine)
        return engine
    # No pre-ping: it cost a `SELECT 1` on every event. A connection that died meanwhile
    # (database restart) fails its one statement; SQLAlchemy then invalidates every
    # connection opened before it, so the next checkouts reconnect, and the request or
    # event runs once more (shared.database.retry_if_connection_died). Recycling keeps connections away
    # from server- and proxy-side idle timeouts. Overflow connections would be opened
    # and closed per use under load, so the pool is sized for the worker's concurrency
    # and greenlets beyond it wait for a connection instead.
    if autocommit:
        # No transaction is ever open on these, so nothing to roll back when one is returned.
        return create_engine(url, pool_size=pool_size, max_overflow=0, pool_timeout=30, pool_recycle=1800,
                             pool_use_lifo=True, isolation_level="AUTOCOMMIT", pool_reset_on_return=None)
    return create_engine(url, pool_size=pool_size, max_overflow=0, pool_timeout=30, pool_recycle=1800,
                         pool_use_lifo=True)


def _renew_together(*engines: Engine) -> None:
    """A connection of one engine found dead (the database restarted) renews the others'
    pools too: their connections died with it, and a request that uses both engines
    gets one retry on a dead connection (shared.database.retry_if_connection_died)."""
    for engine in engines:
        others = [other for other in engines if other is not engine]

        @event.listens_for(engine, "handle_error")
        def _on_error(context, others=others) -> None:
            if context.is_disconnect:
                for other in others:
                    other.dispose(close=False)


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINT; let SQLAlchemy emit BEGIN
    # (the documented recipe). WAL lets readers run while one writer commits.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        # IMMEDIATE: take the write lock up front. A deferred transaction that read
        # first cannot write after another process committed ("database is locked"
        # at once, whatever the timeout); this one waits its turn instead.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    def __init__(self, url: str, publish: Publisher, cache: LookupCache | None = None, pool_size: int = 10) -> None:
        self.engine = create_db_engine(url, pool_size)
        # PostgreSQL: connections kept in autocommit for the message writer, whose writes are
        # one statement each. Switching a pooled connection in and out of autocommit costs a round trip.
        self.autocommit_engine = (create_db_engine(url, pool_size, autocommit=True)
                                  if self.engine.dialect.name == "postgresql" else None)
        if self.autocommit_engine is not None:
            _renew_together(self.engine, self.autocommit_engine)
        self.message_writer = MessageWriter(self.autocommit_engine) if self.autocommit_engine is not None else None
        self.cache = cache or LookupCache()
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False,
                                         info={CACHE_SESSION_KEY: self.cache,
                                               MESSAGE_WRITER: self.message_writer})
        self._publish = publish
        event.listen(self.sessionmaker, "after_commit", self._after_commit)
        event.listen(self.sessionmaker, "after_rollback", self._after_rollback)

    def _after_commit(self, session: Session) -> None:
        events = session.info.pop(PENDING_EVENTS, None)
        if events:
            # Before anyone hears of the change, so this process acts on it at once.
            for queued in events:
                self.cache.apply_event(queued.name, queued.payload)
            self._publish(events)

    @staticmethod
    def _after_rollback(session: Session) -> None:
        session.info.pop(PENDING_EVENTS, None)

    def message_created_at(self, message_id: int) -> datetime | None:
        """When a message was stored, read outside any session (realtime.ordering asks
        after a commit); None on SQLite, whose one connection the committing session may hold
        and whose writers are serialised anyway (nothing to wait for)."""
        if self.autocommit_engine is None:
            return None
        with self.autocommit_engine.connect() as connection:
            return connection.execute(select(Message.created_at).where(Message.id == message_id)).scalar()

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
        if self.autocommit_engine is not None:
            self.autocommit_engine.dispose()


def session() -> Session:
    """The session of the current request or socket event (closed at teardown)."""
    if "db_session" not in g:
        from .state import app_state

        g.db_session = app_state().database.sessionmaker()
    return g.db_session


def close_session(_exc: BaseException | None = None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
