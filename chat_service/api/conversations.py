"""Conversations and messages."""

from __future__ import annotations

from flask import jsonify, request

from shared.errors import json_object
from shared.validation import MAX_ID, Fields, QueryInt, invalid

from .. import db
from ..state import app_state
from ..services import conversations, messages, users
from . import api, caller_token, current_user, current_user_id


@api.get("/conversations")
def list_conversations():
    return jsonify({"conversations": conversations.conversation_views(db.session(), current_user_id())})


@api.post("/conversations")
def create_group():
    body = json_object(request)
    conversation = conversations.create_group(db.session(), current_user(), body.get("title"), body.get("members"))
    return jsonify({"conversation": conversation}), 201


@api.post("/conversations/direct")
def open_direct():
    body = json_object(request)
    session = db.session()
    other = users.resolve_username(session, body.get("username"), app_state().directory, caller_token())
    return jsonify({"conversation": conversations.open_direct(session, current_user(), other)})


@api.get("/conversations/<id:conversation_id>")
def get_conversation(conversation_id: int):
    return jsonify({"conversation": conversations.get_view(db.session(), current_user_id(), conversation_id)})


PAGE = Fields(before=QueryInt(1, MAX_ID), after=QueryInt(0, MAX_ID),
              limit=QueryInt(1, messages.MAX_PAGE, default=messages.DEFAULT_PAGE))


@api.get("/conversations/<id:conversation_id>/messages")
def list_messages(conversation_id: int):
    query = PAGE.check(request.args)
    if query["before"] is not None and query["after"] is not None:
        raise invalid("before", "cannot be combined with after")
    page = messages.history(db.session(), current_user_id(), conversation_id, **query)
    return jsonify({"messages": page.messages, "has_more": page.has_more})


@api.post("/conversations/<id:conversation_id>/messages")
def send_message(conversation_id: int):
    body = json_object(request)
    result = messages.send_message(db.session(), current_user_id(), conversation_id, body.get("text"),
                                   body.get("client_id"), body.get("attachment_ids"), body.get("reply_to"))
    return jsonify({"message": result.message}), 201 if result.created else 200


@api.post("/conversations/<id:conversation_id>/read")
def mark_read(conversation_id: int):
    body = json_object(request)
    messages.mark_read(db.session(), current_user_id(), conversation_id, body.get("message_id"))
    return "", 204
