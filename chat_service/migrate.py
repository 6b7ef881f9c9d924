"""Apply the Alembic migrations: `python -m chat_service.migrate` (to DATABASE_URL).

The launcher and the container entrypoint run exactly this before gunicorn.
"""

from __future__ import annotations

import logging
from pathlib import Path

from shared import database
from shared.logging import configure_logging

from .config import Config

HERE = Path(__file__).resolve().parent
log = logging.getLogger(__name__)


def upgrade(database_url: str, revision: str = "head") -> None:
    database.upgrade(HERE, database_url, revision)


def main() -> None:
    config = Config.from_env()
    configure_logging("chat_service", config.log_level)
    upgrade(config.database_url)
    log.info("migrations applied")


if __name__ == "__main__":
    main()
