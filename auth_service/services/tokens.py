"""Access tokens (JWT) and rotating refresh tokens.

Refresh tokens are opaque random strings stored only as SHA-256 hashes. Each
belongs to a family (the chain started by one login); each works once, and
presenting one that was already used or revoked revokes the whole family,
because it means the chain has been copied.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shared import jwt
from shared.database import transaction
from shared.errors import Unauthorized
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


@dataclass(frozen=True)
class TokenPair:
    user: User
    access_token: str
    access_expires_at: datetime
    refresh_token: str


def hash_refresh_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def access_token(settings: TokenSettings, user: User) -> tuple[str, datetime]:
    claims = jwt.make_claims(
        subject=str(user.id),
        issuer=settings.issuer,
        audience=settings.audience,
        lifetime_seconds=settings.access_ttl,
        # created_at lets chat_service fill its copy of the user without asking us.
        extra={"name": user.username, "created_at": format_timestamp(user.created_at), "typ": "access"},
    )
    return jwt.encode(claims, settings.ring), datetime.fromtimestamp(claims["exp"], timezone.utc)


def _issue(session: Session, settings: TokenSettings, user: User, family_id: str) -> TokenPair:
    """Add a refresh token to `family_id`."""
    raw = secrets.token_urlsafe(32)
    now = utcnow()
    refresh = RefreshToken(token_hash=hash_refresh_token(raw), user_id=user.id, family_id=family_id,
                           created_at=now, expires_at=now + timedelta(seconds=settings.refresh_ttl))
    session.add(refresh)
    token, access_expires_at = access_token(settings, user)
    return TokenPair(user=user, access_token=token, access_expires_at=access_expires_at,
                     refresh_token=raw)


@transaction
def start_session(session: Session, settings: TokenSettings, user: User) -> TokenPair:
    """A fresh pair for a login: a new refresh-token family."""
    return _issue(session, settings, user, family_id=secrets.token_hex(16))


def rotate(session: Session, settings: TokenSettings, raw: str) -> TokenPair:
    """Spend `raw` and return the next pair of its family; 401 if it cannot be spent."""
    pair = _spend(session, settings, raw)
    if pair is None:
        raise Unauthorized(INVALID_REFRESH)
    return pair


@transaction
def _spend(session: Session, settings: TokenSettings, raw: str) -> TokenPair | None:
    """The next pair, or None when `raw` cannot be spent -- then, if it was spent
    before (a stolen copy), its whole family is revoked, and that is committed."""
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
    if spent.rowcount == 1 and token is not None:
        user = session.get(User, token.user_id)
        if user is not None:
            return _issue(session, settings, user, token.family_id)
    if token is not None and (token.used_at is not None or token.revoked_at is not None):
        _revoke_family(session, token.family_id, now)
        log.warning("refresh token reuse; family revoked", extra={"user_id": token.user_id})
    return None


def _revoke_family(session: Session, family_id: str, now: datetime) -> None:
    session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )


@transaction
def revoke(session: Session, raw: str) -> None:
    """Revoke the family `raw` belongs to (logout); nothing happens for an unknown token."""
    family_id = session.scalar(select(RefreshToken.family_id).where(RefreshToken.token_hash == hash_refresh_token(raw)))
    if family_id is not None:
        _revoke_family(session, family_id, utcnow())
