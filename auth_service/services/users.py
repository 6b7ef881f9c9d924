"""Users: registration, credential checks, lookup and search."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import case, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.database import transaction
from shared.errors import Conflict
from shared.timestamps import format_timestamp
from shared.validation import Fields, Text

from ..models import User
from .passwords import PasswordHasher

USERNAME_RE = re.compile(r"[A-Za-z0-9_.-]{3,32}")
# "Valid-looking": an ASCII local part and a dotted domain of DNS labels.
EMAIL_RE = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
)
EMAIL_MAX = 254
PASSWORD_MIN, PASSWORD_MAX = 8, 128
SEARCH_QUERY_MAX = 64


REGISTRATION = Fields(
    username=Text(min_length=3, max_length=32, pattern=USERNAME_RE,
                  problem="must be 3-32 characters: letters, digits, '_', '.', '-'"),
    email=Text(max_length=EMAIL_MAX, pattern=EMAIL_RE, problem="must be a valid email address"),
    password=Text(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX, blank=True,
                  problem=f"must be {PASSWORD_MIN}-{PASSWORD_MAX} characters"),
)
# Login takes any text: a wrong one is simply a failed login (401, like every other).
CREDENTIALS = Fields(username=Text(min_length=0, max_length=64 * 1024, blank=True),
                     password=Text(min_length=0, max_length=64 * 1024, blank=True))


def validate_registration(data: dict[str, Any]) -> tuple[str, str, str]:
    values = REGISTRATION.check(data)
    return values["username"], values["email"], values["password"]


def validate_credentials(username: Any, password: Any) -> tuple[str, str]:
    values = CREDENTIALS.check({"username": username, "password": password})
    # A username never holds spaces, so spaces around a typed one (the web forms trim them) cannot
    # name another account. The password is taken exactly as typed.
    return values["username"].strip(), values["password"]


@transaction
def register(session: Session, hasher: PasswordHasher, username: str, email: str, password: str) -> User:
    user = User(
        username=username,
        username_normalized=username.lower(),
        email=email,
        email_normalized=email.lower(),
        password_hash=hasher.hash(password),
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError:
        # The unique columns decide, so two racing registrations cannot both succeed.
        # The failed insert spoilt the transaction; a fresh one finds which value was taken.
        session.rollback()
        fields = {}
        if session.scalar(select(User.id).where(User.username_normalized == username.lower())) is not None:
            fields["username"] = "is already taken"
        if session.scalar(select(User.id).where(User.email_normalized == email.lower())) is not None:
            fields["email"] = "is already registered"
        raise Conflict("That username or email is already registered.", fields=fields) from None
    return user


@transaction
def authenticate(session: Session, hasher: PasswordHasher, username: str, password: str) -> User | None:
    """The user these credentials belong to, or None (unknown user and wrong password alike)."""
    user = session.scalar(select(User).where(User.username_normalized == username.lower()))
    if user is None or user.deleted_at is not None:
        hasher.verify_dummy(password)
        return None
    if not hasher.verify(password, user.password_hash):
        return None
    if hasher.needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    return user


def get_by_id(session: Session, user_id: int) -> User | None:
    """The user, unless there is none or the account was deleted (as for every lookup below)."""
    user = session.get(User, user_id)
    return user if user is not None and user.deleted_at is None else None


def get_by_username(session: Session, username: str) -> User | None:
    if not USERNAME_RE.fullmatch(username):
        return None
    return session.scalar(select(User).where(User.username_normalized == username.lower(),
                                             User.deleted_at.is_(None)))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search(session: Session, query: str, limit: int) -> list[User]:
    """Usernames containing `query` (case-insensitive), prefix matches first, then by username."""
    pattern = _escape_like(query.lower())
    is_prefix = User.username_normalized.like(f"{pattern}%", escape="\\")
    statement = (
        select(User)
        .where(User.username_normalized.like(f"%{pattern}%", escape="\\"), User.deleted_at.is_(None))
        .order_by(case((is_prefix, 0), else_=1), User.username_normalized)
        .limit(limit)
    )
    return list(session.scalars(statement))


def public_view(user: User) -> dict[str, Any]:
    return {"id": user.id, "username": user.username, "created_at": format_timestamp(user.created_at)}


def private_view(user: User) -> dict[str, Any]:
    return {**public_view(user), "email": user.email}
