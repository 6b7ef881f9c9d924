"""/auth/register, login, token, refresh, logout, me."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify, request

from shared.errors import Unauthorized, error_response, json_object
from shared.request_auth import ACCESS_COOKIE, REFRESH_COOKIE, check_csrf
from shared.timestamps import format_timestamp
from shared.validation import Fields, Text

from .. import db
from ..models import User
from ..services import tokens, users
from ..state import app_state, caller

log = logging.getLogger(__name__)
bp = Blueprint("auth", __name__, url_prefix="/auth")

REFRESH_BODY = Fields(refresh_token=Text(max_length=1024, required=False))

# One message for an unknown user and a wrong password, so neither reveals which.
BAD_CREDENTIALS = "Wrong username or password."


@bp.post("/register")
def register():
    state = app_state()
    check_csrf(request, state.config.allowed_origins, require_origin=False)
    state.registrations.check(request.remote_addr or "unknown")
    username, email, password = users.validate_registration(json_object(request))
    user = users.register(db.session(), state.hasher, username, email, password)
    log.info("user registered", extra={"user_id": user.id})
    return {"user": users.private_view(user)}, 201


@bp.post("/login")
def login():
    pair = tokens.start_session(db.session(), app_state().tokens, _check_credentials())
    response = jsonify(_session_body(pair))
    _set_session_cookies(response, pair)
    return response


@bp.post("/token")
def token():
    pair = tokens.start_session(db.session(), app_state().tokens, _check_credentials())
    return _token_body(pair)


@bp.post("/refresh")
def refresh():
    state = app_state()
    body_token = _refresh_token_from_body()
    if body_token is not None:
        return _token_body(tokens.rotate(db.session(), state.tokens, body_token, state.sessions))
    cookie_token = request.cookies.get(REFRESH_COOKIE)
    if not cookie_token:
        raise Unauthorized("A refresh token is required.")
    check_csrf(request, state.config.allowed_origins)
    try:
        pair = tokens.rotate(db.session(), state.tokens, cookie_token, state.sessions)
    except Unauthorized as error:
        # A dead refresh cookie is useless to the browser; drop it so pages stop retrying.
        response = error_response(error)
        clear_session_cookies(response)
        return response
    response = jsonify(_session_body(pair))
    _set_session_cookies(response, pair)
    return response


@bp.post("/logout")
def logout():
    state = app_state()
    raw = _refresh_token_from_body()
    if raw is None and (REFRESH_COOKIE in request.cookies or ACCESS_COOKIE in request.cookies):
        check_csrf(request, state.config.allowed_origins)
        raw = request.cookies.get(REFRESH_COOKIE)
    if raw:
        tokens.revoke(db.session(), raw, state.sessions)
    return _logged_out()


@bp.post("/logout-all")
def logout_all():
    """End every session of the caller, on every device (this one included)."""
    state = app_state()
    tokens.revoke_all(db.session(), caller().user_id, state.sessions)
    return _logged_out()


def _logged_out() -> Response:
    response = Response(status=204)
    clear_session_cookies(response)
    return response


@bp.get("/me")
def me():
    user = users.get_by_id(db.session(), caller().user_id)
    if user is None:
        raise Unauthorized("This account no longer exists.")
    return {"user": users.private_view(user)}


def _check_credentials() -> User:
    """The user named by the request's credentials (HTTP Basic or JSON), or 401/429."""
    state = app_state()
    check_csrf(request, state.config.allowed_origins, require_origin=False)
    basic = request.authorization
    if basic is not None and basic.type == "basic":
        username, password = users.validate_credentials(basic.username, basic.password)
    else:
        data = json_object(request)
        username, password = users.validate_credentials(data.get("username"), data.get("password"))
    address = request.remote_addr or "unknown"
    # Counted, and refused, before looking at the password, so the limit cannot be used to test guesses.
    attempt = state.limiter.begin(username, address)
    user = users.authenticate(db.session(), state.hasher, username, password)
    if user is None:
        log.info("login failed", extra={"client": address})
        raise Unauthorized(BAD_CREDENTIALS)
    state.limiter.succeeded(attempt)
    log.info("login", extra={"user_id": user.id})
    return user


def _refresh_token_from_body() -> str | None:
    return REFRESH_BODY.check(json_object(request, required=False))["refresh_token"]


def _session_body(pair: tokens.TokenPair) -> dict:
    return {"user": users.public_view(pair.user), "access_expires_at": format_timestamp(pair.access_expires_at)}


def _token_body(pair: tokens.TokenPair) -> dict:
    return {
        "access_token": pair.access_token,
        "refresh_token": pair.refresh_token,
        "token_type": "Bearer",
        "expires_in": app_state().tokens.access_ttl,
        "user": users.public_view(pair.user),
    }


def _set_session_cookies(response: Response, pair: tokens.TokenPair) -> None:
    state = app_state()
    # Path=/ for both: pages anywhere on the site refresh through the gateway's /auth/refresh.
    for name, value, max_age in (
        (ACCESS_COOKIE, pair.access_token, state.tokens.access_ttl),
        (REFRESH_COOKIE, pair.refresh_token, state.tokens.refresh_ttl),
    ):
        response.set_cookie(name, value, max_age=max_age, path="/", httponly=True, samesite="Lax",
                            secure=state.config.cookie_secure)


def clear_session_cookies(response: Response) -> None:
    secure = app_state().config.cookie_secure
    for name in (ACCESS_COOKIE, REFRESH_COOKIE):
        response.delete_cookie(name, path="/", httponly=True, samesite="Lax", secure=secure)
