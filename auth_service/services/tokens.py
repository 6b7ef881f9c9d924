"""Access tokens (JWT) and rotating refresh tokens.

Refresh tokens are opaque random strings stored only as SHA-256 hashes. Each
belongs to a family (the chain started by one login); each works once, and
presenting one that was already used or revoked revokes the whole family,
because it means the chain has been copied.

One exception: a token spent less than `reuse_grace` seconds ago, none of whose
successors has been used yet, gets another successor in the same family instead. A
browser page refreshing in the background while the frontend refreshes for a page load
presents one token twice within milliseconds; without the grace that honest race would
end the session everywhere. A copy replayed after the grace, or once the chain has moved
on past its successor (first -> second -> third, then first again), is still theft.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from redis import RedisError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shared import jwt
from shared.database import transaction
from shared.errors import Unauthorized
from shared.notices import NoticeUndelivered
from shared.sessions import SESSION_CLAIM, SessionRevocations
from shared.timestamps import format_timestamp, utcnow

from ..models import RefreshToken, User

log = logging.getLogger(__name__)

INVALID_REFRESH = "The refresh token is not valid."


@dataclass(frozen=True)
class TokenSettings:
    ring: jwt.KeyRing
    issuer: str
    audience: str
    access_ttl: int
    refresh_ttl: int
    reuse_grace: int = 0


@dataclass(frozen=True)
class TokenPair:
    user: User
    access_token: str
    access_expires_at: datetime
    refresh_token: str


def hash_refresh_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def access_token(settings: TokenSettings, user: User, session_id: str) -> tuple[str, datetime]:
    claims = jwt.make_claims(
        subject=str(user.id),
        issuer=settings.issuer,
        audience=settings.audience,
        lifetime_seconds=settings.access_ttl,
        # created_at lets chat_service fill its copy of the user without asking us.
        # sid: the session (refresh-token family) it belongs to, so ending that session
        # refuses it everywhere (shared.sessions).
        extra={"name": user.username, "created_at": format_timestamp(user.created_at), "typ": "access",
               SESSION_CLAIM: session_id},
    )
    return jwt.encode(claims, settings.ring), datetime.fromtimestamp(claims["exp"], timezone.utc)


def _issue(session: Session, settings: TokenSettings, user: User, family_id: str,
           parent_id: int | None = None) -> TokenPair:
    """Add a refresh token to `family_id`, rotated from `parent_id` (None: a login's first)."""
    raw = secrets.token_urlsafe(32)
    now = utcnow()
    refresh = RefreshToken(token_hash=hash_refresh_token(raw), user_id=user.id, family_id=family_id,
                           parent_id=parent_id, created_at=now,
                           expires_at=now + timedelta(seconds=settings.refresh_ttl))
    session.add(refresh)
    token, access_expires_at = access_token(settings, user, family_id)
    return TokenPair(user=user, access_token=token, access_expires_at=access_expires_at,
                     refresh_token=raw)


@transaction
def start_session(session: Session, settings: TokenSettings, user: User) -> TokenPair:
    """A fresh pair for a login: a new refresh-token family."""
    return _issue(session, settings, user, family_id=secrets.token_hex(16))


def rotate(session: Session, settings: TokenSettings, raw: str, sessions: SessionRevocations | None) -> TokenPair:
    """Spend `raw` and return the next pair of its family; 401 if it cannot be spent."""
    pair, reused_family = _spend(session, settings, raw)
    if reused_family is not None:
        end_sessions(sessions, [reused_family])
    if pair is None:
        raise Unauthorized(INVALID_REFRESH)
    return pair


@transaction
def _spend(session: Session, settings: TokenSettings, raw: str) -> tuple[TokenPair | None, str | None]:
    """The next pair, or None when `raw` cannot be spent -- then, if it was spent
    before (a stolen copy), its whole family is revoked, committed, and named."""
    token_hash = hash_refresh_token(raw)
    now = utcnow()
    # Conditional UPDATE: of two concurrent refreshes with one token, only one sees rowcount 1.
    spent = session.execute(
        update(RefreshToken)
        .where(RefreshToken.token_hash == token_hash, RefreshToken.used_at.is_(None),
               RefreshToken.revoked_at.is_(None), RefreshToken.expires_at > now)
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    token = session.scalar(select(RefreshToken).where(RefreshToken.token_hash == token_hash))
    if token is not None and (spent.rowcount == 1 or _within_reuse_grace(session, settings, token, now)):
        user = session.get(User, token.user_id)
        if user is not None:
            return _issue(session, settings, user, token.family_id, parent_id=token.id), None
    reused = token is not None and (token.used_at is not None or token.revoked_at is not None)
    if reused:
        _revoke_family(session, token.family_id, now)
        log.warning("refresh token reuse; family revoked", extra={"user_id": token.user_id})
    return None, token.family_id if reused else None


def _within_reuse_grace(session: Session, settings: TokenSettings, token: RefreshToken, now: datetime) -> bool:
    """Whether `token` was spent just now by a concurrent refresh of the same client (see the module
    docstring); a revoked family, an expired token, or one whose successor was already used (the
    chain moved on: whoever presents it now holds a copy) never qualifies."""
    if not (token.used_at is not None and token.revoked_at is None and token.expires_at > now
            and now - token.used_at <= timedelta(seconds=settings.reuse_grace)):
        return False
    successor_used = session.scalar(
        select(RefreshToken.id)
        .where(RefreshToken.parent_id == token.id, RefreshToken.used_at.is_not(None))
        .limit(1))
    return successor_used is None


def _revoke_family(session: Session, family_id: str, now: datetime) -> None:
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )


def revoke(session: Session, raw: str, sessions: SessionRevocations | None) -> None:
    """End the session `raw` belongs to (logout); nothing happens for an unknown token."""
    end_sessions(sessions, _revoke_by_token(session, raw))


@transaction
def _revoke_by_token(session: Session, raw: str) -> list[str]:
    family_id = session.scalar(select(RefreshToken.family_id).where(RefreshToken.token_hash == hash_refresh_token(raw)))
    if family_id is None:
        return []
    _revoke_family(session, family_id, utcnow())
    return [family_id]


def revoke_all(session: Session, user_id: int, sessions: SessionRevocations | None) -> None:
    """End every session of the user (log out everywhere)."""
    end_sessions(sessions, revoke_user_families(session, user_id))


@transaction
def revoke_user_families(session: Session, user_id: int, keep: str | None = None) -> list[str]:
    """Revoke the refresh tokens of every session of the user but `keep`; the ended session ids
    (for `end_sessions` once committed)."""
    now = utcnow()
    others = [RefreshToken.family_id != keep] if keep else []
    family_ids = session.scalars(select(RefreshToken.family_id).distinct()
                                 .where(RefreshToken.user_id == user_id, RefreshToken.expires_at > now, *others)).all()
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None), *others)
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    return list(family_ids)


def end_sessions(sessions: SessionRevocations | None, family_ids: list[str]) -> None:
    """Have every service refuse these sessions' access tokens now (after the revocation
    committed). Their refresh tokens are already revoked, so if Redis (or, without it, a chat
    instance) is unreachable they end there when their access token expires (shared.sessions
    says why that fails open)."""
    if sessions is None or not family_ids:
        return
    try:
        sessions.end_sessions(family_ids)
    except (RedisError, NoticeUndelivered) as error:
        log.warning("could not record an ended session; its access tokens run until they expire: %s", error)
