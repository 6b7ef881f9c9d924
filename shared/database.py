"""Database helpers common to the services that own a database (auth, chat).

Imports SQLAlchemy/Alembic lazily: web_frontend installs `shared` without them.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Callable, TypeVar

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
    called by another joins the caller's transaction."""

    @functools.wraps(action)
    def run(session, *args: Any, **kwargs: Any) -> Any:
        if session.info.get(_IN_ACTION):
            return action(session, *args, **kwargs)
        session.info[_IN_ACTION] = True
        try:
            result = action(session, *args, **kwargs)
            session.commit()
            return result
        except BaseException:
            session.rollback()
            raise
        finally:
            session.info.pop(_IN_ACTION, None)

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
