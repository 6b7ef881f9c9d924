"""A user deleting their own account, with their password.

The row stays, marked deleted and stripped of its email and password, so the username stays
reserved: nobody can register it and pass for the person the friends knew. Every session ends
at once, and the deletion is announced to chat (shared.account_deletions), which removes the
friendships and shows the messages as from "Deleted user". The row records when it was announced:
one that Redis was down for is announced by the next attempt (the next deletion, or the retry every
DELETION_ANNOUNCE_INTERVAL seconds: deletion_announcer.py), never lost.
"""

from __future__ import annotations

import logging
from typing import Any

from redis import RedisError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shared.account_deletions import AccountDeletions
from shared.database import transaction
from shared.notices import NoticeUndelivered
from shared.sessions import SessionRevocations
from shared.timestamps import utcnow
from shared.validation import Fields

from ..models import UNANNOUNCED, User
from . import tokens
from .account_settings import CURRENT_PASSWORD, user_with_password
from .passwords import PasswordHasher

log = logging.getLogger(__name__)

ACCOUNT_DELETION = Fields(password=CURRENT_PASSWORD)
# Never a valid hash, so no password matches it.
NO_PASSWORD = "!deleted"


def validate_account_deletion(data: dict[str, Any]) -> str:
    return ACCOUNT_DELETION.check(data)["password"]


def delete_account(session: Session, hasher: PasswordHasher, user_id: int, password: str,
                   sessions: SessionRevocations | None, deletions: AccountDeletions | None) -> None:
    ended = _delete_account(session, hasher, user_id, password)
    tokens.end_sessions(sessions, ended)
    announce_deletions(session, deletions)


def announce_deletions(session: Session, deletions: AccountDeletions | None) -> int:
    """Announce to chat every deleted account not announced yet; how many were. Stops at the
    first Redis (or, without Redis, chat) error, leaving the rest for the next attempt. Several processes may announce
    the same deletion at once: chat applies it twice, which changes nothing."""
    if deletions is None:
        return 0
    announced = 0
    for user_id in session.scalars(select(User.id).where(UNANNOUNCED).order_by(User.id)).all():
        try:
            deletions.announce(user_id)
        except (RedisError, NoticeUndelivered):
            log.error("could not announce a deleted account to chat; it is tried again later",
                      extra={"user_id": user_id})
            break
        _mark_announced(session, user_id)
        announced += 1
    return announced


@transaction
def _mark_announced(session: Session, user_id: int) -> None:
    session.execute(update(User).where(User.id == user_id).values(deletion_announced_at=utcnow()))


@transaction
def _delete_account(session: Session, hasher: PasswordHasher, user_id: int, password: str) -> list[str]:
    user = user_with_password(session, hasher, user_id, password, "password")
    user.deleted_at = utcnow()
    # The email is free for a new account; the placeholder keeps the column unique and non-null.
    user.email = user.email_normalized = f"deleted-{user.id}@deleted.invalid"
    user.password_hash = NO_PASSWORD
    return tokens.revoke_user_families(session, user_id)
