"""Ended sessions and deleted accounts without Redis: auth tells chat directly.

These stand in for `shared.sessions.SessionRevocations` and `shared.account_deletions.AccountDeletions`
when REDIS_URL is unset (the quick start), with the same methods, so the token and account
actions do not change. Each ending or deletion is POSTed, signed, to every chat instance
(`CHAT_SERVICE_URL`, shared.notices) before the request that caused it is answered; auth's own
check reads its database, where an ended session's refresh tokens are revoked.

A chat instance that cannot be reached is logged and skipped after a short timeout: a logout
still succeeds (its refresh tokens are revoked either way). A deletion it missed stays
unannounced and is sent again by the deletion announcer.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from shared import jwt
from shared.notices import ACCOUNTS_DELETED, SESSIONS_ENDED, NoticeSender
from shared.sessions import SESSION_CLAIM

from . import db
from .models import RefreshToken


class NoticedSessionEnds:
    def __init__(self, sender: NoticeSender | None, access_ttl: int) -> None:
        self.sender = sender
        # How long chat must remember an ended session: as long as its access tokens are accepted.
        self.keep_for = max(1, int(access_ttl)) + int(jwt.DEFAULT_LEEWAY_SECONDS)

    def end_sessions(self, session_ids: list[str]) -> None:
        """Tell every chat instance, in one notice however many sessions end (log out everywhere):
        an unresponsive instance then costs one timeout, not one per session (raises NoticeUndelivered)."""
        if self.sender is not None and session_ids:
            self.sender.send(SESSIONS_ENDED, {"session_ids": list(session_ids), "keep_for": self.keep_for})

    def ended(self, claims: dict[str, Any]) -> bool:
        """Whether the token's session has ended: ending one revokes its refresh tokens (services/tokens.py);
        a session merely rotating never does."""
        session_id = claims.get(SESSION_CLAIM)
        if not isinstance(session_id, str):
            return False
        revoked = db.session().scalar(select(RefreshToken.id).where(
            RefreshToken.family_id == session_id, RefreshToken.revoked_at.is_not(None)).limit(1))
        return revoked is not None


class NoticedAccountDeletions:
    def __init__(self, sender: NoticeSender) -> None:
        self.sender = sender

    def announce(self, user_id: int) -> None:
        """Tell every chat instance (raises NoticeUndelivered: announced again later)."""
        self.sender.send(ACCOUNTS_DELETED, {"user_id": user_id})
