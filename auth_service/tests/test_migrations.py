from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from auth_service.db import make_engine
from auth_service.migrate import alembic_config, upgrade
from auth_service.models import Base
from shared.testing import temporary_postgres_database


def test_migrations_build_exactly_the_models(database_url):
    engine = make_engine(database_url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": "auth_alembic_version"})
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()


def check_round_trip(url):
    upgrade(url)
    engine = make_engine(url)
    assert {"users", "refresh_tokens", "auth_alembic_version"} <= set(inspect(engine).get_table_names())
    command.downgrade(alembic_config(url), "base")
    assert set(inspect(engine).get_table_names()) == {"auth_alembic_version"}
    upgrade(url)
    upgrade(url)  # running it again is a no-op
    assert {"users", "refresh_tokens"} <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_migrations_round_trip_on_sqlite(tmp_path):
    check_round_trip(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")


def test_migrations_round_trip_on_postgresql():
    with temporary_postgres_database("auth_migrate") as url:
        check_round_trip(url)
