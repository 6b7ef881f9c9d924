"""Apply the Alembic migrations to the configured database.

`python -m auth_service.migrate` upgrades `DATABASE_URL` to the newest schema;
the launcher and the container entrypoint run exactly this before serving.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig

from .config import database_url_from_env

HERE = Path(__file__).resolve().parent


def alembic_config(database_url: str) -> AlembicConfig:
    config = AlembicConfig(str(HERE / "alembic.ini"))
    config.set_main_option("script_location", str(HERE / "migrations"))
    # Passed as an attribute, not an ini option, so a `%` in a password needs no escaping.
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def main() -> None:
    upgrade(database_url_from_env())


if __name__ == "__main__":
    main()
