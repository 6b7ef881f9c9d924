"""The browser the backend calls act for: its tokens, its user, the cookies passed back to it."""

from __future__ import annotations

from functools import wraps
from typing import Any, Callable

from flask import g, request

from shared.request_auth import ACCESS_COOKIE, REFRESH_COOKIE, request_origin

from .clients import Caller, CookieGrant, Unauthenticated
from .state import app_state


def caller() -> Caller:
    """The browser behind this request, with its (possibly just refreshed) tokens."""
    if "caller" not in g:
        public_origin = request_origin(request)
        proto, _, host = public_origin.partition("://")
        browser_origin = request.headers.get("Origin")
        # One hop: the browser's address as this app sees it (after ProxyFix), so
        # auth, trusting one proxy, attributes the request to the browser, not to us.
        forwarded_for = request.remote_addr
        g.caller = Caller(
            access_token=request.cookies.get(ACCESS_COOKIE) or None,
            refresh_token=request.cookies.get(REFRESH_COOKIE) or None,
            origin=browser_origin if browser_origin and browser_origin != "null" else public_origin,
            forwarded_host=host,
            forwarded_proto=proto,
            forwarded_for=forwarded_for or None,
            request_id=g.get("request_id"),
        )
    return g.caller


def forward_cookies(grant: CookieGrant) -> None:
    """Pass the cookies a service set on to the browser, and use their tokens for the rest of this request."""
    g.setdefault("set_cookie_headers", []).extend(grant.set_cookie_headers)
    g.caller = caller().with_tokens(grant)


def current_user() -> dict[str, Any]:
    """The logged-in user; an expired access token is refreshed once, invisibly. Raises Unauthenticated."""
    if "user" in g:
        return g.user
    auth = app_state().auth
    if caller().access_token:
        try:
            g.user = auth.me(caller())
            return g.user
        except Unauthenticated:
            if not caller().refresh_token:
                raise
    if not caller().refresh_token:
        raise Unauthenticated("auth", "Please log in.", status=401, code="unauthorized")
    forward_cookies(auth.refresh(caller()))
    g.user = auth.me(caller())
    return g.user


def login_required(view: Callable) -> Callable:
    @wraps(view)
    def wrapper(*args, **kwargs):
        current_user()
        return view(*args, **kwargs)

    return wrapper


def clear_auth_cookies(response):
    for name in (ACCESS_COOKIE, REFRESH_COOKIE):
        response.delete_cookie(name, path="/", httponly=True, samesite="Lax",
                               secure=app_state().config.cookie_secure)
    return response


def install(app) -> None:
    @app.after_request
    def _forward_set_cookies(response):
        for header in g.get("set_cookie_headers", []):
            response.headers.add("Set-Cookie", header)
        return response
