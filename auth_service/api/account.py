"""/auth/me/password, /auth/me/email and DELETE /auth/me: the caller changing or deleting their own account."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, request

from shared.errors import ApiError, ValidationError, json_object
from shared.sessions import SESSION_CLAIM

from .. import db
from ..services import account_deletion, account_settings, users
from ..state import app_state, caller
from .auth import clear_session_cookies

log = logging.getLogger(__name__)
bp = Blueprint("account", __name__, url_prefix="/auth/me")


def _guarded(identity, check):
    """Run `check` (which verifies the current password) as a login attempt: counted first,
    refused with 429 while the login limits say so."""
    state = app_state()
    attempt = state.limiter.begin(identity.username, request.remote_addr or "unknown")
    try:
        result = check()
    except ValidationError:  # a wrong password: the attempt stays counted
        log.info("account change with a wrong password", extra={"user_id": identity.user_id})
        raise
    except ApiError:
        state.limiter.succeeded(attempt)  # the password was right (e.g. the new email is taken)
        raise
    state.limiter.succeeded(attempt)
    return result


@bp.post("/password")
def change_password():
    """New password; every other session of the user ends, the caller's stays."""
    state = app_state()
    identity = caller()
    current, new = account_settings.validate_password_change(json_object(request))
    keep = identity.claims.get(SESSION_CLAIM)
    _guarded(identity, lambda: account_settings.change_password(
        db.session(), state.hasher, identity.user_id, current, new,
        keep if isinstance(keep, str) else None, state.sessions))
    log.info("password changed", extra={"user_id": identity.user_id})
    return Response(status=204)


@bp.post("/email")
def change_email():
    state = app_state()
    identity = caller()
    email, password = account_settings.validate_email_change(json_object(request))
    user = _guarded(identity, lambda: account_settings.change_email(
        db.session(), state.hasher, identity.user_id, email, password))
    log.info("email changed", extra={"user_id": identity.user_id})
    return {"user": users.private_view(user)}


@bp.delete("")
def delete_account():
    """Delete the caller's account (with the password): every session ends, chat hears of it."""
    state = app_state()
    identity = caller()
    password = account_deletion.validate_account_deletion(json_object(request))
    _guarded(identity, lambda: account_deletion.delete_account(
        db.session(), state.hasher, identity.user_id, password, state.sessions, state.deletions))
    log.info("account deleted", extra={"user_id": identity.user_id})
    response = Response(status=204)
    clear_session_cookies(response)
    return response
