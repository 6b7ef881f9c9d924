"""Friend requests and friends."""

from __future__ import annotations

from flask import jsonify, request

from shared.errors import NotFound, json_object
from shared.validation import invalid

from .. import db
from ..state import app_state
from ..services import friends, users
from ..services.payloads import user_payload
from . import api, caller_token, current_user, current_user_id


@api.post("/friend-requests")
def send_friend_request():
    body = json_object(request)
    session = db.session()
    target = users.resolve_username(session, body.get("username"), app_state().directory, caller_token())
    outcome, payload = friends.send_request(session, current_user(), target)
    if outcome == "accepted":
        return jsonify(payload), 200
    return jsonify({"request": payload}), 201


@api.get("/friend-requests")
def list_friend_requests():
    direction = request.args.get("direction", "incoming")
    if direction not in ("incoming", "outgoing"):
        raise invalid("direction", "must be incoming or outgoing")
    return jsonify({"requests": friends.list_requests(db.session(), current_user_id(), direction)})


@api.post("/friend-requests/<id:request_id>/accept")
def accept_friend_request(request_id: int):
    return jsonify(friends.accept_request(db.session(), current_user(), request_id))


@api.post("/friend-requests/<id:request_id>/decline")
def decline_friend_request(request_id: int):
    friends.decline_request(db.session(), current_user(), request_id)
    return "", 204


@api.delete("/friend-requests/<id:request_id>")
def cancel_friend_request(request_id: int):
    friends.cancel_request(db.session(), current_user(), request_id)
    return "", 204


@api.get("/friends")
def list_friends():
    session = db.session()
    found = friends.list_friends(session, current_user_id())
    online = app_state().presence.online([f.id for f in found])
    return jsonify({"friends": [{**user_payload(f), "online": f.id in online} for f in found]})


@api.delete("/friends/<username>")
def remove_friend(username: str):
    session = db.session()
    friend = users.find_local(session, username)
    if friend is None:
        raise NotFound("You are not friends with this user.")
    friends.remove_friend(session, current_user(), friend)
    return "", 204
