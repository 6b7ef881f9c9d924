"""Blocking users."""

from __future__ import annotations

from flask import jsonify, request

from shared.errors import NotFound, json_object

from .. import db
from ..state import app_state
from ..services import blocks, users
from . import api, caller_token, current_user, current_user_id


@api.get("/blocks")
def list_blocks():
    return jsonify({"blocks": blocks.list_blocks(db.session(), current_user_id())})


@api.post("/blocks")
def block_user():
    body = json_object(request)
    session = db.session()
    target = users.resolve_username(session, body.get("username"), app_state().directory, caller_token())
    created, block = blocks.block_user(session, current_user(), target)
    return jsonify({"block": block}), 201 if created else 200


@api.delete("/blocks/<username>")
def unblock_user(username: str):
    session = db.session()
    target = users.find_local(session, username)
    if target is None:
        raise NotFound("You have not blocked this user.")
    blocks.unblock_user(session, current_user(), target)
    return "", 204
