"""Static asset URLs with content hashes, their cache headers, and the security headers of every page."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from flask import Flask, request, url_for

from shared.request_auth import request_origin

VENDOR_SOCKET_IO = "vendor/socket.io-4.8.3.min.js"
LONG_CACHE = "public, max-age=31536000, immutable"


@lru_cache(maxsize=None)
def _digest(static_folder: str, filename: str) -> str:
    return hashlib.sha256((Path(static_folder) / filename).read_bytes()).hexdigest()[:12]


def asset_url(filename: str) -> str:
    """The URL of a static file, carrying its content hash so it can be cached for a year."""
    from flask import current_app

    return url_for("static", filename=filename, v=_digest(current_app.static_folder, filename))


def content_security_policy() -> str:
    host = request_origin(request).partition("://")[2]
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        f"connect-src 'self' ws://{host} wss://{host}",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self'",
    ])


def install(app: Flask) -> None:
    app.jinja_env.globals["asset_url"] = asset_url
    app.jinja_env.globals["VENDOR_SOCKET_IO"] = VENDOR_SOCKET_IO

    @app.after_request
    def _headers(response):
        response.headers["Content-Security-Policy"] = content_security_policy()
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
        if request.endpoint == "static":
            filename = (request.view_args or {}).get("filename", "")
            versioned = filename == VENDOR_SOCKET_IO or (
                response.status_code == 200 and request.args.get("v") == _digest(app.static_folder, filename))
            # Unversioned files (modules imported by other modules) are revalidated with their ETag.
            response.headers["Cache-Control"] = LONG_CACHE if versioned else "no-cache"
        elif response.mimetype == "text/html":
            response.headers["Cache-Control"] = "no-store"
        return response
