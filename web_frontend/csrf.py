"""CSRF tokens for our own forms: a random token in the signed Flask session, echoed by every form."""

from __future__ import annotations

import hmac
import secrets

from flask import Flask, request, session

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
FIELD = "csrf_token"


class CsrfFailure(Exception):
    """A form came back without the token this browser was given."""


def csrf_token() -> str:
    if FIELD not in session:
        session[FIELD] = secrets.token_urlsafe(32)
    return session[FIELD]


def install(app: Flask) -> None:
    app.jinja_env.globals["csrf_token"] = csrf_token

    @app.before_request
    def _check_csrf() -> None:
        # No route, no form: let routing answer 404/405 rather than a CSRF redirect.
        if request.method not in UNSAFE_METHODS or request.url_rule is None:
            return
        expected = session.get(FIELD)
        sent = request.form.get(FIELD, "")
        if not expected or not hmac.compare_digest(expected.encode(), sent.encode()):
            raise CsrfFailure()
