"""/healthz: 200 only when the database (and Redis, when configured) answer."""

from __future__ import annotations

import logging

import redis
from flask import Blueprint
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from shared.errors import Unavailable

from ..db import database
from ..state import app_state

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


@bp.get("/healthz")
@bp.get("/auth/healthz")  # the gateway passes /auth/ paths through unchanged
def healthz():
    try:
        with database().engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        log.warning("health check: database unreachable", exc_info=True)
        raise Unavailable("The database is unavailable.") from None
    client = app_state().redis
    if client is not None:
        try:
            client.ping()
        except redis.RedisError:
            log.warning("health check: redis unreachable", exc_info=True)
            raise Unavailable("Redis is unavailable.") from None
    return {"status": "ok"}
