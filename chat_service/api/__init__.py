"""REST blueprints under /api: parse and validate input, call an action, serialize."""

from __future__ import annotations

from flask import Blueprint, Flask, g, request
from werkzeug.routing import IntegerConverter

from shared.request_auth import access_token, authenticate

from .. import db
from ..models import User
from ..state import EXTENSION, app_state
from ..services import users

api = Blueprint("api", __name__, url_prefix="/api")


class IdConverter(IntegerConverter):
    """`<id:name>`: a positive integer that fits a database id (else 404, never a crash).

    The pattern itself refuses what cannot be an id (0, leading zeros, more than 18
    digits: far beyond any id ever handed out, and within the 64-bit limit), so such a
    path matches no route: 404. Refusing it later, in to_python, would make Werkzeug
    answer 405 whenever the same path has a rule for another method.
    """

    regex = r"[1-9][0-9]{0,17}"


@api.before_request
def _authenticate() -> None:
    if request.endpoint == "api.health":
        return
    rt = app_state()
    identity = authenticate(request, rt.config.key_ring, issuer=rt.config.jwt_issuer,
                            audience=rt.config.jwt_audience, allowed_origins=rt.config.allowed_origins,
                            sessions=rt.sessions)
    users.remember_identity(db.session(), identity.user_id, identity.username,
                            identity.claims.get("created_at"))
    g.identity = identity


def current_user_id() -> int:
    return g.identity.user_id


def current_user() -> User:
    return db.session().get(User, g.identity.user_id)


def caller_token() -> str:
    """The caller's own access token, passed on to auth's user lookup."""
    return access_token(request)[0]


def register_api(app: Flask) -> None:
    app.url_map.converters["id"] = IdConverter
    # Routes register on import.
    from . import (account_data, attachments, blocks, conversations, friends, groups, health,  # noqa: F401
                   messages, profile, search)

    app.register_blueprint(api)
    app.register_blueprint(health.probes)
    if not app.extensions[EXTENSION].config.redis_url:
        # Without Redis auth tells this instance of ended sessions and deleted accounts itself.
        from .internal import internal

        app.register_blueprint(internal)
