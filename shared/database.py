"""Database helpers common to the services that own a database (auth, chat).

Imports SQLAlchemy/Alembic lazily: web_frontend installs `shared` without them.
"""

from __future__ import annotations

from pathlib import Path


def normalize_database_url(url: str) -> str:
    """A bare `postgresql://` (or `postgres://`) URL gets the pinned psycopg2 driver;
    SQLAlchemy 2.1 would otherwise pick psycopg 3, which no service installs."""
    scheme, sep, rest = url.partition("://")
    if scheme in {"postgres", "postgresql"}:
        return f"postgresql+psycopg2{sep}{rest}"
    return url


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
