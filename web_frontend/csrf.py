"""CSRF protection for our own forms (Flask-WTF's CSRFProtect).

Every unsafe request must carry `csrf_token`, a signed copy of a random token kept in
the browser's signed Flask session; templates render it with `csrf_token()`. The
token is replaced whenever the user behind the session changes (login, logout), so a
token planted in or read from a browser before login is worth nothing after it.
"""

from __future__ import annotations

from flask import Flask, current_app, g, session
from flask_wtf.csrf import CSRFProtect

protect = CSRFProtect()


def install(app: Flask) -> None:
    # The token lives as long as the session: a form left open for hours still posts.
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    protect.init_app(app)


def rotate_csrf_token() -> None:
    """Forget this session's token; the next page rendered gets a new one."""
    field = current_app.config["WTF_CSRF_FIELD_NAME"]
    session.pop(field, None)
    g.pop(field, None)
