"""A user changing their own password or email; each takes the current password.

A wrong current password is a field error (422), not a 401: the caller is still logged in.
The API counts each attempt with the login limiter first, so a stolen session cannot be
used to guess the password any faster than the login form allows.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.database import transaction
from shared.errors import Conflict, Unauthorized, ValidationError
from shared.sessions import SessionRevocations
from shared.validation import Fields, Text

from ..models import User
from . import tokens
from .passwords import PasswordHasher
from .users import EMAIL_MAX, EMAIL_RE, PASSWORD_MAX, PASSWORD_MIN

# The current password is only compared, so any text is taken (a wrong one is a field error).
CURRENT_PASSWORD = Text(min_length=0, max_length=64 * 1024, blank=True)
PASSWORD_CHANGE = Fields(
    current_password=CURRENT_PASSWORD,
    new_password=Text(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX, blank=True,
                      problem=f"must be {PASSWORD_MIN}-{PASSWORD_MAX} characters"),
)
EMAIL_CHANGE = Fields(
    email=Text(max_length=EMAIL_MAX, pattern=EMAIL_RE, problem="must be a valid email address"),
    password=CURRENT_PASSWORD,
)
WRONG_PASSWORD = "is not your current password"


def validate_password_change(data: dict[str, Any]) -> tuple[str, str]:
    values = PASSWORD_CHANGE.check(data)
    return values["current_password"], values["new_password"]


def validate_email_change(data: dict[str, Any]) -> tuple[str, str]:
    values = EMAIL_CHANGE.check(data)
    return values["email"], values["password"]


def user_with_password(session: Session, hasher: PasswordHasher, user_id: int, password: str,
                        field: str) -> User:
    user = session.get(User, user_id)
    if user is None or user.deleted_at is not None:
        raise Unauthorized("This account no longer exists.")
    if not hasher.verify(password, user.password_hash):
        raise ValidationError("The current password is wrong.", fields={field: WRONG_PASSWORD})
    return user


def change_password(session: Session, hasher: PasswordHasher, user_id: int, current: str, new: str,
                    keep_session: str | None, sessions: SessionRevocations | None) -> User:
    """Set a new password and end every other session of the user; `keep_session` (the caller's) stays."""
    user, ended = _change_password(session, hasher, user_id, current, new, keep_session)
    tokens.end_sessions(sessions, ended)
    return user


@transaction
def _change_password(session: Session, hasher: PasswordHasher, user_id: int, current: str, new: str,
                     keep_session: str | None) -> tuple[User, list[str]]:
    user = user_with_password(session, hasher, user_id, current, "current_password")
    user.password_hash = hasher.hash(new)
    return user, tokens.revoke_user_families(session, user_id, keep=keep_session)


@transaction
def change_email(session: Session, hasher: PasswordHasher, user_id: int, email: str, password: str) -> User:
    user = user_with_password(session, hasher, user_id, password, "password")
    user.email, user.email_normalized = email, email.lower()
    try:
        session.flush()
    except IntegrityError:
        # The unique column decides, as at registration.
        session.rollback()
        raise Conflict("That email is already registered.", fields={"email": "is already registered"}) from None
    return user
