"""Which browser origins may open a Socket.IO connection."""

from __future__ import annotations

from typing import Any, Iterable


class OriginPolicy:
    """engine.io's `cors_allowed_origins` callable: the configured list plus the
    request's own origin (as the gateway forwards it). A handshake without an
    Origin header (not a browser) is not a cross-origin request and is allowed
    by engine.io before this is consulted."""

    def __init__(self, allowed: Iterable[str]) -> None:
        self.allowed = frozenset(o.rstrip("/").lower() for o in allowed)

    def __call__(self, origin: str | None, environ: dict[str, Any]) -> bool:
        if not origin:
            return False
        origin = origin.rstrip("/").lower()
        return origin in self.allowed or origin in own_origins(environ)


def own_origins(environ: dict[str, Any]) -> set[str]:
    scheme = environ.get("wsgi.url_scheme", "http")
    host = environ.get("HTTP_HOST", "")
    origins = {f"{scheme}://{host}".lower()} if host else set()
    forwarded_proto = environ.get("HTTP_X_FORWARDED_PROTO", scheme).split(",")[0].strip()
    forwarded_host = environ.get("HTTP_X_FORWARDED_HOST", host).split(",")[0].strip()
    if forwarded_host:
        origins.add(f"{forwarded_proto}://{forwarded_host}".lower())
    return origins
