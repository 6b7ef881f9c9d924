"""Database helpers common to the services that own a database (auth, chat).

Imports SQLAlchemy/Alembic lazily: web_frontend installs `shared` without them.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, TypeVar

if TYPE_CHECKING:
    from flask import Flask

    from .errors import Unavailable

log = logging.getLogger(__name__)
T = TypeVar("T")
Action = TypeVar("Action", bound=Callable[..., Any])
_IN_ACTION = "in_action"


def normalize_database_url(url: str) -> str:
    """A bare `postgresql://` (or `postgres://`) URL gets the pinned psycopg2 driver;
    SQLAlchemy 2.1 would otherwise pick psycopg 3, which no service installs."""
    scheme, sep, rest = url.partition("://")
    if scheme in {"postgres", "postgresql"}:
        return f"postgresql+psycopg2{sep}{rest}"
    return url


def transaction(action: Action) -> Action:
    """An action's one transaction (its first argument is the SQLAlchemy session):
    committed when the action returns, rolled back when it raises, so what it
    changed -- and the events it queued -- happen entirely or not at all. An action
    called by another joins the caller's transaction. If the pooled connection had
    died (see `retry_if_connection_died`) the whole action runs once more."""

    @functools.wraps(action)
    def run(session, *args: Any, **kwargs: Any) -> Any:
        if session.info.get(_IN_ACTION):
            return action(session, *args, **kwargs)

        def once() -> Any:
            session.info[_IN_ACTION] = True
            try:
                result = action(session, *args, **kwargs)
                if session.in_transaction():
                    session.commit()
                else:
                    # Nothing was read or written through the session (a message's checks
                    # hit the caches, its row went to the message writer), so there is no
                    # transaction to commit: SQLAlchemy would open one only to close it,
                    # ~18 µs per message. What the action queued is final all the same,
                    # and goes out through the same after-commit listeners.
                    session.dispatch.after_commit(session)
                return result
            except BaseException:
                session.rollback()
                raise
            finally:
                session.info.pop(_IN_ACTION, None)

        # The rollback above already returned the dead connection; nothing more to reset.
        return retry_if_connection_died(once, reset=lambda: None)

    return run  # type: ignore[return-value]


def alembic_config(service_dir: Path, database_url: str):
    """The Alembic configuration of the service whose package folder is `service_dir`
    (it holds `alembic.ini` and `migrations/`)."""
    from alembic.config import Config

    config = Config(str(service_dir / "alembic.ini"))
    config.set_main_option("script_location", str(service_dir / "migrations"))
    # An attribute, not an ini option, so a `%` in a password needs no escaping.
    config.attributes["database_url"] = database_url
    return config


def upgrade(service_dir: Path, database_url: str, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(service_dir, database_url), revision)


# Seconds a client is told to wait (Retry-After) when the database is unreachable.
RETRY_AFTER_SECONDS = 2


def connection_died(error: BaseException) -> bool:
    """Whether `error` says the database connection itself went away (a restart, an
    administrator terminating it): SQLAlchemy has then invalidated it, and the pool
    hands out fresh connections from now on."""
    from sqlalchemy.exc import DBAPIError

    return isinstance(error, DBAPIError) and bool(error.connection_invalidated)


def database_unavailable(error: BaseException) -> bool:
    """Whether `error` means "the database cannot be reached or answer now" (503), as
    opposed to a bug or a constraint the request broke (500)."""
    from sqlalchemy.exc import InterfaceError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    return isinstance(error, (OperationalError, InterfaceError, PoolTimeout)) or connection_died(error)


def unavailable() -> "Unavailable":
    from .errors import Unavailable

    return Unavailable("The database is unavailable; try again shortly.",
                       headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


_RETRIED = "database_retry_done"


def retry_if_connection_died(action: Callable[[], T], reset: Callable[[], None]) -> T:
    """Run `action`; if it failed because its pooled connection had died, `reset` and
    run it once more on a fresh connection.

    A dead connection committed nothing, so the second run starts from the same state.
    Checking connections before use instead (pool_pre_ping) costs a round trip on
    every checkout; this costs nothing until a connection dies. The one ambiguous case,
    a COMMIT whose answer was lost with its connection, is why writes that matter are
    idempotent (messages by client_id). An error that already had its retry (an action
    inside a request) is marked so that the outer layer does not run it again.
    """
    try:
        return action()
    except Exception as error:
        if not connection_died(error) or getattr(error, _RETRIED, False):
            raise
        log.warning("database connection died; retrying once on a fresh one")
        reset()
    try:
        return action()
    except Exception as error:
        setattr(error, _RETRIED, True)
        raise


def install_database_errors(app: "Flask", reset: Callable[[], None]) -> None:
    """Every request of `app` (its reads too, which run outside actions) retries once on
    a connection that died, and answers 503 `unavailable` with Retry-After while the
    database cannot be reached."""
    from sqlalchemy.exc import SQLAlchemyError

    from .errors import InternalError, error_response

    dispatch = app.dispatch_request
    app.dispatch_request = lambda: retry_if_connection_died(dispatch, reset)  # type: ignore[method-assign]

    @app.errorhandler(SQLAlchemyError)
    def _database_error(error: SQLAlchemyError):
        if database_unavailable(error):
            log.error("database unavailable: %s", error.__class__.__name__)
            return error_response(unavailable())
        log.exception("unhandled database error")
        return error_response(InternalError())
