"""Who is making this request, and may a cookie make it?

Both the access-token lookup (cookie or `Authorization: Bearer`) and the CSRF
rule of the public contract live here, so every service applies them the same
way:

* a state-changing request (POST, PUT, PATCH, DELETE) that carries our cookies
  and no Bearer token must come with an `Origin` (or, failing that, `Referer`)
  naming an allowed origin or the request's own origin; otherwise 403;
* requests authenticated with a Bearer token are not subject to the check
  (a cross-site page cannot make a browser add that header).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable
from urllib.parse import urlsplit

from flask import Request

from . import jwt
from .errors import Forbidden, Unauthorized
from .sessions import LocalSessionEnds, SessionRevocations

ACCESS_COOKIE = "access_token"
REFRESH_COOKIE = "refresh_token"
SESSION_ENDED = "This session has ended; log in again."
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Identity:
    user_id: int
    username: str
    claims: dict[str, Any]
    via: str  # "bearer" or "cookie"


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def access_token(request: Request) -> tuple[str | None, str | None]:
    """(token, "bearer"|"cookie"), or (None, None)."""
    token = bearer_token(request)
    if token:
        return token, "bearer"
    token = request.cookies.get(ACCESS_COOKIE)
    if token:
        return token, "cookie"
    return None, None


def identity_from_claims(claims: dict[str, Any], via: str) -> Identity:
    """Check the claims an access token must have and build an Identity."""
    sub, name = claims.get("sub"), claims.get("name")
    if claims.get("typ") != "access" or not isinstance(sub, str) or not sub.isdigit() or not isinstance(name, str):
        raise jwt.InvalidTokenError("not an access token")
    return Identity(user_id=int(sub), username=name, claims=claims, via=via)


def verify_access_token(token: str, ring: jwt.KeyRing, *, issuer: str, audience: str, via: str = "bearer") -> Identity:
    """Verify a raw access token; raises `jwt.TokenError` subclasses."""
    return identity_from_claims(jwt.decode(token, ring, issuer=issuer, audience=audience), via)


def authenticate(request: Request, ring: jwt.KeyRing, *, issuer: str, audience: str,
                 allowed_origins: Iterable[str] = (),
                 sessions: SessionRevocations | LocalSessionEnds | None = None) -> Identity:
    """The caller's identity, or 401; enforces the CSRF rule for cookie auth, and
    refuses tokens of a session that has ended (when `sessions` is given)."""
    token, via = access_token(request)
    if token is None:
        raise Unauthorized()
    try:
        identity = verify_access_token(token, ring, issuer=issuer, audience=audience, via=via or "bearer")
    except jwt.ExpiredTokenError:
        raise Unauthorized("The access token has expired.",
                           headers={"WWW-Authenticate": 'Bearer error="invalid_token", error_description="expired"'})
    except jwt.TokenError:
        raise Unauthorized("The access token is not valid.",
                           headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    if sessions is not None and sessions.ended(identity.claims):
        raise Unauthorized(SESSION_ENDED, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    if via == "cookie":
        check_csrf(request, allowed_origins)
    return identity


def request_origin(request: Request) -> str:
    """The origin this request was addressed to (behind the gateway: the public one)."""
    proto = request.headers.get("X-Forwarded-Proto", request.scheme).split(",")[0].strip()
    host = request.headers.get("X-Forwarded-Host", request.host).split(",")[0].strip()
    return f"{proto}://{host}".lower()


def sender_origin(request: Request) -> str | None:
    """The origin the browser says the request came from (Origin, else Referer)."""
    origin = request.headers.get("Origin")
    if origin and origin != "null":
        return origin.rstrip("/").lower()
    if origin == "null":
        return "null"
    referer = request.headers.get("Referer")
    if referer:
        parts = urlsplit(referer)
        if parts.scheme and parts.netloc:
            return f"{parts.scheme}://{parts.netloc}".lower()
    return None


def origin_allowed(origin: str, request: Request, allowed_origins: Iterable[str]) -> bool:
    allowed = {o.rstrip("/").lower() for o in allowed_origins}
    return origin in allowed or origin == request_origin(request)


def check_csrf(request: Request, allowed_origins: Iterable[str], *, require_origin: bool = True) -> None:
    """403 unless a state-changing request names an allowed origin.

    `require_origin=False` lets through requests without Origin/Referer (used
    before a session exists, e.g. login from a program); a foreign origin is
    refused either way.
    """
    if request.method not in UNSAFE_METHODS:
        return
    origin = sender_origin(request)
    if origin is None:
        if require_origin:
            raise Forbidden("Cross-site request refused: Origin header required.")
        return
    if not origin_allowed(origin, request, allowed_origins):
        raise Forbidden("Cross-site request refused: origin not allowed.")
