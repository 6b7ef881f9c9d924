"""Alembic environment for auth_service (online migrations only)."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import pool

from auth_service.config import database_url_from_env
from auth_service.db import make_engine
from auth_service.models import Base

config = context.config
# Only when run by the alembic command line; migrate.py leaves logging to its caller.
if config.config_file_name is not None and "database_url" not in config.attributes:
    fileConfig(config.config_file_name, disable_existing_loggers=False)

# Its own version table, so a database shared by mistake never confuses two services.
VERSION_TABLE = "auth_alembic_version"


def run_migrations_online() -> None:
    url = config.attributes.get("database_url") or database_url_from_env()
    engine = make_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            version_table=VERSION_TABLE,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("auth_service migrations run online only (python -m auth_service.migrate)")
run_migrations_online()
