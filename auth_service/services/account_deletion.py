"""A user deleting their own account, with their password.

The row stays, marked deleted and stripped of its email and password, so the username stays
reserved: nobody can register it and pass for the person the friends knew. Every session ends
at once, and the deletion is announced to chat (shared.account_deletions), which removes the
friendships and shows the messages as from "Deleted user".
"""

from __future__ import annotations

import logging
from typing import Any

from redis import RedisError
from sqlalchemy.orm import Session

from shared.account_deletions import AccountDeletions
from shared.database import transaction
from shared.sessions import SessionRevocations
from shared.timestamps import utcnow
from shared.validation import Fields

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
    if deletions is not None:
        try:
            deletions.announce(user_id)
        except RedisError:
            log.error("could not announce a deleted account to chat", extra={"user_id": user_id})


@transaction
def _delete_account(session: Session, hasher: PasswordHasher, user_id: int, password: str) -> list[str]:
    user = user_with_password(session, hasher, user_id, password, "password")
    user.deleted_at = utcnow()
    # The email is free for a new account; the placeholder keeps the column unique and non-null.
    user.email = user.email_normalized = f"deleted-{user.id}@deleted.invalid"
    user.password_hash = NO_PASSWORD
    return tokens.revoke_user_families(session, user_id)
