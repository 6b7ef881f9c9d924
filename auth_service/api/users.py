"""/auth/users: search and lookup, for signed-in callers (cookie or Bearer)."""

from __future__ import annotations

from flask import Blueprint, request

from shared.errors import NotFound, ValidationError

from .. import db
from ..services import users
from ..state import caller

bp = Blueprint("users", __name__, url_prefix="/auth/users")

SEARCH_LIMIT_DEFAULT, SEARCH_LIMIT_MAX = 20, 50


@bp.get("")
def search():
    caller()
    query = request.args.get("q", "")
    raw_limit = request.args.get("limit", str(SEARCH_LIMIT_DEFAULT))
    errors = {}
    if not query.strip():
        errors["q"] = "is required"
    elif len(query) > users.SEARCH_QUERY_MAX or not users.is_clean_text(query):
        errors["q"] = f"must be at most {users.SEARCH_QUERY_MAX} characters of text"
    limit = int(raw_limit) if raw_limit.isascii() and raw_limit.isdigit() else 0
    if not 1 <= limit <= SEARCH_LIMIT_MAX:
        errors["limit"] = f"must be an integer from 1 to {SEARCH_LIMIT_MAX}"
    if errors:
        raise ValidationError(fields=errors)
    return {"users": [users.public_view(u) for u in users.search(db.session(), query, limit)]}


@bp.get("/<username>")
def lookup(username: str):
    caller()
    user = users.get_by_username(db.session(), username)
    if user is None:
        raise NotFound("No such user.")
    return {"user": users.public_view(user)}
