"""The browser the backend calls act for: its tokens, its user, the cookies passed back to it."""

from __future__ import annotations

from functools import wraps
from typing import Any, Callable, TypeVar

from flask import g, request

from shared.request_auth import ACCESS_COOKIE, REFRESH_COOKIE, request_origin

from .clients import Caller, CookieGrant, Unauthenticated
from .state import app_state

T = TypeVar("T")


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


def with_fresh_session(call: Callable[[Caller], T]) -> T:
    """`call(caller())`; when the access token is missing or refused (it expired while the page was
    open), the refresh cookie buys a new pair once, invisibly, and the call is made again.
    Raises Unauthenticated when there is nothing left to refresh with."""
    if caller().access_token:
        try:
            return call(caller())
        except Unauthenticated:
            if not caller().refresh_token:
                raise
    if not caller().refresh_token:
        raise Unauthenticated("auth", "Please log in.", status=401, code="unauthorized")
    forward_cookies(app_state().auth.refresh(caller()))
    return call(caller())


def current_user() -> dict[str, Any]:
    """The logged-in user (see `with_fresh_session`). Raises Unauthenticated."""
    if "user" not in g:
        g.user = with_fresh_session(app_state().auth.me)
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
