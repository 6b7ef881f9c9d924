"""Users: registration, credential checks, lookup and search."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import case, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.errors import Conflict, ValidationError
from shared.timestamps import format_timestamp

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


def is_clean_text(value: str) -> bool:
    """No NUL (PostgreSQL refuses it) and no lone surrogates (not encodable as UTF-8)."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _text_field(data: dict[str, Any], name: str, errors: dict[str, str]) -> str | None:
    value = data.get(name)
    if value is None:
        errors[name] = "is required"
    elif not isinstance(value, str):
        errors[name] = "must be a string"
    elif not is_clean_text(value):
        errors[name] = "contains characters that are not allowed"
    else:
        return value
    return None


def validate_registration(data: dict[str, Any]) -> tuple[str, str, str]:
    errors: dict[str, str] = {}
    username = _text_field(data, "username", errors)
    email = _text_field(data, "email", errors)
    password = _text_field(data, "password", errors)
    if username is not None and not USERNAME_RE.fullmatch(username):
        errors["username"] = "must be 3-32 characters: letters, digits, '_', '.', '-'"
    if email is not None and (len(email) > EMAIL_MAX or not EMAIL_RE.fullmatch(email)):
        errors["email"] = "must be a valid email address"
    if password is not None and not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        errors["password"] = f"must be {PASSWORD_MIN}-{PASSWORD_MAX} characters"
    if errors:
        raise ValidationError(fields=errors)
    return username, email, password  # type: ignore[return-value]


def validate_credentials(username: Any, password: Any) -> tuple[str, str]:
    """Login input: any strings (a wrong one is simply a failed login)."""
    errors: dict[str, str] = {}
    username = _text_field({"username": username}, "username", errors)
    password = _text_field({"password": password}, "password", errors)
    if errors:
        raise ValidationError(fields=errors)
    return username, password  # type: ignore[return-value]


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
        session.commit()
    except IntegrityError:
        # The unique columns decide, so two racing registrations cannot both succeed.
        session.rollback()
        fields = {}
        if session.scalar(select(User.id).where(User.username_normalized == username.lower())) is not None:
            fields["username"] = "is already taken"
        if session.scalar(select(User.id).where(User.email_normalized == email.lower())) is not None:
            fields["email"] = "is already registered"
        raise Conflict("That username or email is already registered.", fields=fields) from None
    return user


def authenticate(session: Session, hasher: PasswordHasher, username: str, password: str) -> User | None:
    """The user these credentials belong to, or None (unknown user and wrong password alike)."""
    user = session.scalar(select(User).where(User.username_normalized == username.lower()))
    if user is None:
        hasher.verify_dummy(password)
        return None
    if not hasher.verify(password, user.password_hash):
        return None
    if hasher.needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
        session.commit()
    return user


def get_by_id(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def get_by_username(session: Session, username: str) -> User | None:
    if not USERNAME_RE.fullmatch(username):
        return None
    return session.scalar(select(User).where(User.username_normalized == username.lower()))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search(session: Session, query: str, limit: int) -> list[User]:
    """Usernames containing `query` (case-insensitive), prefix matches first, then by username."""
    pattern = _escape_like(query.lower())
    is_prefix = User.username_normalized.like(f"{pattern}%", escape="\\")
    statement = (
        select(User)
        .where(User.username_normalized.like(f"%{pattern}%", escape="\\"))
        .order_by(case((is_prefix, 0), else_=1), User.username_normalized)
        .limit(limit)
    )
    return list(session.scalars(statement))


def public_view(user: User) -> dict[str, Any]:
    return {"id": user.id, "username": user.username, "created_at": format_timestamp(user.created_at)}


def private_view(user: User) -> dict[str, Any]:
    return {**public_view(user), "email": user.email}
