"""Signed notices from auth to chat over HTTP, for stacks without Redis.

With Redis, auth records ended sessions and deleted accounts there and every chat instance
hears of them on a channel (shared.sessions, shared.account_deletions). Without it (the quick
start: one chat instance, SQLite) auth POSTs each one to every chat instance's internal endpoint
instead, at once, so the promises hold there too.

A notice is a short-lived JWT signed with the key ring both services already share. Its own
audience keeps it apart from access tokens: neither can be passed off as the other. Replaying
one within its lifetime only repeats what it said, which changes nothing.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any, Iterable, Mapping

from . import jwt

AUDIENCE = "chat-internal"
# Long enough for clock skew between the services, short enough that a copy is soon useless.
LIFETIME_SECONDS = 30
SESSIONS_ENDED = "sessions-ended"
ACCOUNTS_DELETED = "accounts-deleted"
KINDS = (SESSIONS_ENDED, ACCOUNTS_DELETED)


class NoticeUndelivered(Exception):
    """At least one chat instance did not confirm a notice."""


def sign_notice(kind: str, payload: Mapping[str, Any], ring: jwt.KeyRing, *, issuer: str) -> str:
    claims = jwt.make_claims(subject=kind, issuer=issuer, audience=AUDIENCE, lifetime_seconds=LIFETIME_SECONDS,
                             extra={"typ": "notice", "notice": dict(payload)})
    return jwt.encode(claims, ring)


def verify_notice(token: Any, kind: str, ring: jwt.KeyRing, *, issuer: str) -> dict[str, Any]:
    """The payload of a notice of `kind`; raises `jwt.TokenError` for anything else."""
    claims = jwt.decode(token, ring, issuer=issuer, audience=AUDIENCE)
    payload = claims.get("notice")
    if claims.get("typ") != "notice" or claims.get("sub") != kind or not isinstance(payload, dict):
        raise jwt.InvalidTokenError("not a notice of this kind")
    return payload


def path(kind: str) -> str:
    return f"/internal/{kind}"


class NoticeSender:
    """Sends notices to every chat instance (`urls`); each keeps its own in-process record."""

    def __init__(self, urls: Iterable[str], ring: jwt.KeyRing, *, issuer: str, timeout: float = 1.0) -> None:
        self.urls = tuple(url.rstrip("/") for url in urls)
        self.ring = ring
        self.issuer = issuer
        # Short: auth answers its caller (a logout, say) only after every instance was told or gave up.
        self.timeout = timeout

    def send(self, kind: str, payload: Mapping[str, Any]) -> None:
        """Deliver to every instance; raises NoticeUndelivered naming those that did not confirm
        (after trying them all)."""
        body = json.dumps({"notice": sign_notice(kind, payload, self.ring, issuer=self.issuer)}).encode()
        failed = []
        for url in self.urls:
            request = urllib.request.Request(f"{url}{path(kind)}", data=body, method="POST",
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    if response.status != 204:
                        failed.append(f"{url} ({response.status})")
            except urllib.error.HTTPError as error:
                failed.append(f"{url} ({error.code})")
            except (OSError, ValueError) as error:
                failed.append(f"{url} ({error.__class__.__name__})")
        if failed:
            raise NoticeUndelivered(f"{kind} not confirmed by " + ", ".join(failed))
