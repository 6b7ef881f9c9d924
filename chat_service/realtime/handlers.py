"""Socket.IO event handlers: authenticate, validate, call the same action
functions as REST, answer through the acknowledgement.

Acks are `{ok: true, ...}` or `{ok: false, error: {code, message}}` with the
REST error codes. Every event re-checks the token's expiry, so a socket never
outlives its access token (the maintenance sweep catches idle ones).
"""

from __future__ import annotations

import functools
import logging
from typing import Any, Callable

from flask import Flask, request
from flask_socketio import ConnectionRefusedError, SocketIO, join_room
from redis import RedisError

from shared import jwt
from shared.database import database_unavailable, retry_if_connection_died, unavailable
from shared.errors import ApiError, BadRequest, InternalError, NotFound, Unauthorized
from shared.request_auth import ACCESS_COOKIE, SESSION_ENDED, verify_access_token
from shared.sessions import SESSION_CLAIM
from shared.validation import Id, check_field

from .. import db
from ..state import app_state
from ..services import message_changes, messages, presence, reactions, users
from .connections import Connection
from .incoming_packets import REFUSED_EVENT
from .rooms import user_room

log = logging.getLogger(__name__)

Ack = dict[str, Any]


def error_ack(error: ApiError) -> Ack:
    """The REST error envelope (`fields` included) with `ok: false`."""
    return {"ok": False, **error.to_dict()}


def _refuse(code: str, message: str) -> ConnectionRefusedError:
    return ConnectionRefusedError("unauthorized", {"code": code, "message": message})


def _handshake_token(auth: Any) -> str | None:
    if isinstance(auth, dict) and isinstance(auth.get("token"), str) and auth["token"]:
        return auth["token"]
    return request.cookies.get(ACCESS_COOKIE) or None


def _count_presence(count: Callable[[int], bool], user_id: int, *, online: bool) -> None:
    """Count a connection opening or closing; tell the user's friends when that made
    them come online or go offline. Best effort: an unreachable presence store must
    not refuse or break a connection."""
    try:
        changed = count(user_id)
    except RedisError:
        log.warning("presence store unreachable", extra={"online": online})
        return
    if changed:
        presence.announce(db.session(), user_id, online)


def register_handlers(app: Flask, socketio: SocketIO) -> None:
    @socketio.on("connect")
    def on_connect(auth: Any = None) -> None:
        rt = app_state()
        token = _handshake_token(auth)
        if token is None:
            raise _refuse("invalid_token", "An access token is required.")
        try:
            identity = verify_access_token(token, rt.config.key_ring, issuer=rt.config.jwt_issuer,
                                           audience=rt.config.jwt_audience)
        except jwt.ExpiredTokenError:
            raise _refuse("token_expired", "The access token has expired.") from None
        except jwt.TokenError:
            raise _refuse("invalid_token", "The access token is not valid.") from None
        # The socket lives exactly as long as REST would accept its token: exp plus the one leeway.
        expires_at = float(identity.claims["exp"]) + jwt.DEFAULT_LEEWAY_SECONDS
        if rt.sessions is not None and rt.sessions.ended(identity.claims):
            raise _refuse("invalid_token", SESSION_ENDED)
        users.remember_identity(db.session(), identity.user_id, identity.username,
                                identity.claims.get("created_at"))
        join_room(user_room(identity.user_id))
        session_id = identity.claims.get(SESSION_CLAIM)
        rt.connections.add(request.sid, Connection(identity.user_id, expires_at,
                                                   session_id if isinstance(session_id, str) else None))
        rt.maintenance.ensure_started()
        if rt.session_ends is not None:
            rt.session_ends.ensure_started()
        _count_presence(rt.presence.connected, identity.user_id, online=True)

    @socketio.on("disconnect")
    def on_disconnect(reason: Any = None) -> None:
        rt = app_state()
        connection = rt.connections.remove(request.sid)
        if connection is None:
            return
        _count_presence(rt.presence.disconnected, connection.user_id, online=False)

    def event(name: str) -> Callable[[Callable[[Connection, dict], Ack]], Callable]:
        # Registered on the python-socketio server itself: Flask-SocketIO would push a
        # request context per event (a Request built from the environ, URL matching of
        # /socket.io/, the session), ~5% of a message's CPU. These handlers need only the
        # app context (app_state(), the database session in `g`, closed at its teardown).
        def decorator(action: Callable[[Connection, dict], Ack]) -> Callable:
            @functools.wraps(action)
            def handler(sid: str, data: Any = None, *_ignored: Any) -> Ack:
                with app.app_context():
                    try:
                        return retry_if_connection_died(lambda: _run(sid, action, data), db.close_session)
                    except Exception as error:
                        if database_unavailable(error):
                            log.error("database unavailable: %s", error.__class__.__name__)
                            return error_ack(unavailable())
                        return on_unexpected_error(error)
            socketio.server.on(name, handler, namespace="/")
            return handler
        return decorator

    def _run(sid: str, action: Callable[[Connection, dict], Ack], data: Any) -> Ack:
        rt = app_state()
        connection = rt.connections.get(sid)
        if connection is None:
            return error_ack(Unauthorized())
        if connection.expired():
            rt.maintenance.disconnect_soon(sid)
            return error_ack(Unauthorized("The access token has expired; refresh it and reconnect."))
        if not isinstance(data, dict):
            return error_ack(BadRequest("The event data must be an object."))
        try:
            return action(connection, data)
        except ApiError as error:
            return error_ack(error)

    @event("send")
    def on_send(connection: Connection, data: dict) -> Ack:
        conversation_id = check_field("conversation_id", Id(), data.get("conversation_id"))
        result = messages.send_message(db.session(), connection.user_id, conversation_id, data.get("text"),
                                       data.get("client_id"), data.get("attachment_ids"), data.get("reply_to"))
        return {"ok": True, "message": result.message, "created": result.created}

    @event("edit")
    def on_edit(connection: Connection, data: dict) -> Ack:
        message_id = check_field("message_id", Id(), data.get("message_id"))
        session = db.session()
        message = message_changes.edit_message(session, connection.user_id, message_id, data.get("text"),
                                               edit_window=app_state().config.message_edit_window)
        return {"ok": True, "message": message_changes.message_view(session, connection.user_id, message)}

    @event("delete")
    def on_delete(connection: Connection, data: dict) -> Ack:
        message_id = check_field("message_id", Id(), data.get("message_id"))
        message_changes.delete_message(db.session(), connection.user_id, message_id)
        return {"ok": True}

    @event("react")
    def on_react(connection: Connection, data: dict) -> Ack:
        message_id = check_field("message_id", Id(), data.get("message_id"))
        change = reactions.remove_reaction if data.get("remove") is True else reactions.add_reaction
        return {"ok": True, "reactions": change(db.session(), connection.user_id, message_id, data.get("emoji"))}

    @event("typing")
    def on_typing(connection: Connection, data: dict) -> Ack:
        conversation_id = check_field("conversation_id", Id(), data.get("conversation_id"))
        messages.typing(db.session(), connection.user_id, conversation_id)
        return {"ok": True}

    @event("read")
    def on_read(connection: Connection, data: dict) -> Ack:
        conversation_id = check_field("conversation_id", Id(), data.get("conversation_id"))
        messages.mark_read(db.session(), connection.user_id, conversation_id, data.get("message_id"))
        return {"ok": True}

    # An event whose payload could not be used (too large, too deep, not an event: incoming_packets.py)
    # carries the error to answer with; an event of no known name is answered too, so a client that
    # waits for its acknowledgement never waits in vain.
    def on_refused(sid: str, error: ApiError, *_ignored: Any) -> Ack:
        return error_ack(error)

    def on_unknown(event: str, sid: str, *_ignored: Any) -> Ack:
        return error_ack(NotFound("There is no such event."))

    socketio.server.on(REFUSED_EVENT, on_refused, namespace="/")
    socketio.server.on("*", on_unknown, namespace="/")

    @socketio.on_error_default
    def on_unexpected_error(error: Exception) -> Ack:
        log.exception("socket event failed", exc_info=error)
        db.session().rollback()
        return error_ack(InternalError())
