"""Apply the Alembic migrations to the configured database.

`python -m auth_service.migrate` upgrades `DATABASE_URL` to the newest schema;
the launcher and the container entrypoint run exactly this before serving.
"""

from __future__ import annotations

from pathlib import Path

from shared import database

from .config import database_url_from_env

HERE = Path(__file__).resolve().parent


def alembic_config(database_url: str):
    return database.alembic_config(HERE, database_url)


def upgrade(database_url: str, revision: str = "head") -> None:
    database.upgrade(HERE, database_url, revision)


def main() -> None:
    upgrade(database_url_from_env())


if __name__ == "__main__":
    main()
