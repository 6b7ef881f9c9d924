"""POST /internal/sessions-ended and /internal/accounts-deleted: auth telling this instance
directly, on a stack without Redis (shared.notices says why).

Not part of the public API: the gateway never routes /internal/ here (it answers 404 itself),
and each call must carry a notice signed with the JWT key ring auth and chat share. Both are
idempotent, so a notice delivered twice (or replayed while it is valid) changes nothing more.
"""

from __future__ import annotations

import logging
import math

from flask import Blueprint, request

from shared import jwt
from shared.errors import Unauthorized, json_object
from shared.notices import ACCOUNTS_DELETED, SESSIONS_ENDED, path, verify_notice
from shared.validation import invalid

from .. import db
from ..realtime.session_ends import end_session_sockets
from ..services.deleted_users import forget_deleted_user
from ..state import app_state

log = logging.getLogger(__name__)
internal = Blueprint("internal", __name__)


def _notice(kind: str) -> dict:
    rt = app_state()
    try:
        return verify_notice(json_object(request).get("notice"), kind, rt.config.key_ring,
                             issuer=rt.config.jwt_issuer)
    except jwt.TokenError:
        raise Unauthorized("The notice is not valid.") from None


@internal.post(path(SESSIONS_ENDED))
def sessions_ended():
    """Refuse the sessions' access tokens from now on and end their open sockets."""
    notice = _notice(SESSIONS_ENDED)
    session_ids, keep_for = notice.get("session_ids"), notice.get("keep_for")
    if not isinstance(session_ids, list) or not all(isinstance(sid, str) for sid in session_ids) \
            or isinstance(keep_for, bool) or not isinstance(keep_for, (int, float)) \
            or not math.isfinite(keep_for) or keep_for <= 0:
        raise invalid("notice", "must name sessions and how long to keep them")
    rt = app_state()
    for session_id in session_ids:
        rt.sessions.end(session_id, float(keep_for))
        end_session_sockets(rt.socketio, rt.connections, rt.maintenance.disconnect_soon, session_id)
    return "", 204


@internal.post(path(ACCOUNTS_DELETED))
def accounts_deleted():
    """Show the account as deleted here: its friendships end, its messages read "Deleted user"."""
    user_id = _notice(ACCOUNTS_DELETED).get("user_id")
    if isinstance(user_id, bool) or not isinstance(user_id, int):
        raise invalid("notice", "must name a user")
    forget_deleted_user(db.session(), user_id)
    log.info("deleted account applied", extra={"user_id": user_id})
    return "", 204
