"""One message: editing, deleting, reactions."""

from __future__ import annotations

from flask import jsonify, request

from shared.errors import json_object

from .. import db
from ..state import app_state
from ..services import message_changes, reactions
from . import api, current_user_id


@api.patch("/messages/<id:message_id>")
def edit_message(message_id: int):
    body = json_object(request)
    session = db.session()
    message = message_changes.edit_message(session, current_user_id(), message_id, body.get("text"),
                                           edit_window=app_state().config.message_edit_window)
    return jsonify({"message": message_changes.message_view(session, current_user_id(), message)})


@api.delete("/messages/<id:message_id>")
def delete_message(message_id: int):
    message_changes.delete_message(db.session(), current_user_id(), message_id)
    return "", 204


@api.get("/messages/<id:message_id>/reactions")
def list_reactions(message_id: int):
    return jsonify({"reactions": reactions.reactors(db.session(), current_user_id(), message_id)})


@api.put("/messages/<id:message_id>/reactions/<emoji>")
def add_reaction(message_id: int, emoji: str):
    return jsonify({"reactions": reactions.add_reaction(db.session(), current_user_id(), message_id, emoji)})


@api.delete("/messages/<id:message_id>/reactions/<emoji>")
def remove_reaction(message_id: int, emoji: str):
    return jsonify({"reactions": reactions.remove_reaction(db.session(), current_user_id(), message_id, emoji)})
