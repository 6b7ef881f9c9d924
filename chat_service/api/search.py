"""Message search."""

from __future__ import annotations

from flask import jsonify, request

from .. import db
from ..services import search
from . import api, current_user_id


@api.get("/search/messages")
def search_messages():
    query = search.SEARCH.check(request.args)
    page = search.search_messages(db.session(), current_user_id(), **query)
    return jsonify({"results": page.results, "next_before": page.next_before})
