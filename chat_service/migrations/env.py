"""Alembic environment: the URL comes from `migrate.upgrade()` (or DATABASE_URL)."""

from alembic import context
from sqlalchemy import create_engine, pool, text

from chat_service.config import Config
from chat_service.models import Base
from shared.database import normalize_database_url

target_metadata = Base.metadata


def database_url() -> str:
    return normalize_database_url(context.config.attributes.get("database_url") or Config.from_env().database_url)


def run_offline() -> None:
    context.configure(url=database_url(), target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    engine = create_engine(database_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            # Several instances start at once (compose --scale): one migrates, the others wait.
            connection.execute(text("SELECT pg_advisory_lock(72871)"))
            connection.commit()
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
