"""Changing a group: title, members, admins, leaving."""

from __future__ import annotations

from flask import jsonify, request

from shared.errors import json_object
from shared.validation import check_field

from .. import db
from ..services import groups, users
from ..services.validation import USERNAME
from . import api, current_user


@api.patch("/conversations/<id:conversation_id>")
def rename_group(conversation_id: int):
    body = json_object(request)
    return jsonify({"conversation": groups.rename(db.session(), current_user(), conversation_id,
                                                  body.get("title"))})


@api.post("/conversations/<id:conversation_id>/members")
def add_members(conversation_id: int):
    body = json_object(request)
    return jsonify({"conversation": groups.add_members(db.session(), current_user(), conversation_id,
                                                       body.get("members"))})


@api.delete("/conversations/<id:conversation_id>/members/<username>")
def remove_member(conversation_id: int, username: str):
    session = db.session()
    groups.remove_member(session, current_user(), conversation_id, users.find_local(session, username))
    return "", 204


@api.post("/conversations/<id:conversation_id>/leave")
def leave_group(conversation_id: int):
    groups.leave(db.session(), current_user(), conversation_id)
    return "", 204


@api.post("/conversations/<id:conversation_id>/admins")
def make_admin(conversation_id: int):
    body = json_object(request)
    session = db.session()
    member = users.find_local(session, check_field("username", USERNAME, body.get("username")))
    return jsonify({"conversation": groups.make_admin(session, current_user(), conversation_id, member)})
