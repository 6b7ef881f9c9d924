"""Apply the Alembic migrations: `python -m chat_service.migrate` (to DATABASE_URL).

The launcher and the container entrypoint run exactly this before gunicorn.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig

from shared.logging import configure_logging

from .config import Config

HERE = Path(__file__).resolve().parent
log = logging.getLogger(__name__)


def alembic_config(database_url: str) -> AlembicConfig:
    config = AlembicConfig(str(HERE / "alembic.ini"))
    config.set_main_option("script_location", str(HERE / "migrations"))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def main() -> None:
    config = Config.from_env()
    configure_logging("chat_service", config.log_level)
    upgrade(config.database_url)
    log.info("migrations applied")


if __name__ == "__main__":
    main()
