"""Liveness: 200 whenever this process can serve pages; reports whether auth and chat answer."""

from __future__ import annotations

import requests
from flask import Blueprint, jsonify

from ..state import app_state

bp = Blueprint("health", __name__)


def _answers(client) -> bool:
    try:
        return client.healthy()
    except requests.RequestException:
        return False


@bp.get("/healthz")
def healthz():
    # web_frontend owns no data: a backend being down degrades pages but must not
    # make an orchestrator restart this process, so the status stays 200.
    return jsonify(status="ok", auth=_answers(app_state().auth), chat=_answers(app_state().chat))
