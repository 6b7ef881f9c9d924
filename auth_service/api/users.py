"""/auth/users: search and lookup, for signed-in callers (cookie or Bearer)."""

from __future__ import annotations

from flask import Blueprint, request

from shared.errors import NotFound
from shared.request_auth import authenticate
from shared.validation import Fields, QueryInt, Text

from .. import db
from ..services import users
from ..state import app_state

bp = Blueprint("users", __name__, url_prefix="/auth/users")

SEARCH_LIMIT_DEFAULT, SEARCH_LIMIT_MAX = 20, 50
SEARCH = Fields(q=Text(max_length=users.SEARCH_QUERY_MAX),
                limit=QueryInt(1, SEARCH_LIMIT_MAX, default=SEARCH_LIMIT_DEFAULT))


def _require_identity() -> None:
    state = app_state()
    authenticate(request, state.tokens.ring, issuer=state.config.jwt_issuer,
                 audience=state.config.jwt_audience, allowed_origins=state.config.allowed_origins)


@bp.get("")
def search():
    _require_identity()
    query = SEARCH.check(request.args)
    return {"users": [users.public_view(u) for u in users.search(db.session(), query["q"], query["limit"])]}


@bp.get("/<username>")
def lookup(username: str):
    _require_identity()
    user = users.get_by_username(db.session(), username)
    if user is None:
        raise NotFound("No such user.")
    return {"user": users.public_view(user)}
