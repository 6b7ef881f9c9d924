"""REST blueprints under /api: parse and validate input, call an action, serialize."""

from __future__ import annotations

from flask import Blueprint, Flask, g, request
from werkzeug.routing import IntegerConverter

from shared.request_auth import access_token, authenticate

from ..db import get_session
from ..models import User
from ..runtime import runtime
from ..services import users
from ..services.validation import MAX_ID

api = Blueprint("api", __name__, url_prefix="/api")


class IdConverter(IntegerConverter):
    """`<id:name>`: a positive integer that fits a database id (else 404, never a crash)."""

    def __init__(self, map, **kwargs):
        super().__init__(map, min=1, max=MAX_ID)


@api.before_request
def _authenticate() -> None:
    if request.endpoint == "api.health":
        return
    rt = runtime()
    identity = authenticate(request, rt.config.key_ring, issuer=rt.config.jwt_issuer,
                            audience=rt.config.jwt_audience, allowed_origins=rt.config.allowed_origins)
    users.remember_identity(get_session(), identity.user_id, identity.username,
                            identity.claims.get("created_at"), rt.known_users)
    g.identity = identity


def current_user_id() -> int:
    return g.identity.user_id


def current_user() -> User:
    return get_session().get(User, g.identity.user_id)


def caller_token() -> str:
    """The caller's own access token, passed on to auth's user lookup."""
    return access_token(request)[0]


def register_api(app: Flask) -> None:
    app.url_map.converters["id"] = IdConverter
    from . import conversations, friends, health  # noqa: F401  (routes register on import)

    app.register_blueprint(api)
    app.register_blueprint(health.probes)
