"""GET /healthz (and /api/healthz through the gateway): database and Redis reachable?"""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify

from shared.errors import Unavailable

from ..state import app_state
from . import api

log = logging.getLogger(__name__)
probes = Blueprint("probes", __name__)


def _check() -> dict:
    rt = app_state()
    try:
        rt.database.ping()
    except Exception:
        log.warning("health check: database unreachable")
        raise Unavailable("The database is unreachable.") from None
    checks = {"database": "ok"}
    if rt.config.redis_url:
        try:
            rt.presence.ping()
        except Exception:
            log.warning("health check: redis unreachable")
            raise Unavailable("Redis is unreachable.") from None
        checks["redis"] = "ok"
    writer = rt.database.message_writer
    return {"status": "ok", "instance": rt.config.instance_id, "checks": checks,
            "connections": len(rt.connections), "queue": rt.socketio.server.manager.counters.to_dict(),
            "message_order": rt.socketio.server.manager.order.to_dict(),
            **({"message_writer": writer.to_dict()} if writer is not None else {})}


@probes.get("/healthz")
def healthz():
    return jsonify(_check())


@api.get("/healthz", endpoint="health")
def api_healthz():
    return jsonify(_check())
