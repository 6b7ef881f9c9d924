"""chat's own small copy of users: id (= auth's id), username, created_at."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.database import transaction
from shared.errors import NotFound
from shared.timestamps import parse_timestamp, utcnow

from ..auth_directory import AuthDirectory
from ..cache import lookup_cache
from ..models import User
from .payloads import user_payload
from shared.validation import check_field

from .validation import USERNAME, looks_like_username


def remember_user(session: Session, user_id: int, username: str, created_at: datetime | None) -> User:
    """Insert or refresh a user we learned about from a verified source (its own transaction)."""
    user, renamed = _store_user(session, user_id, username, created_at)
    if renamed:
        # After the commit: a reader cannot cache the old name again from the database.
        lookup_cache(session).forget_user(user_id)
    return user


@transaction
def _store_user(session: Session, user_id: int, username: str, created_at: datetime | None) -> tuple[User, bool]:
    user = session.get(User, user_id)
    if user is None:
        try:
            with session.begin_nested():
                user = User(id=user_id, username=username, created_at=created_at or utcnow())
                session.add(user)
        except IntegrityError:
            # Another request inserted the same user first; theirs is as good as ours.
            user = session.get(User, user_id)
            if user is None:
                raise
    renamed = user.username != username
    user.username = username
    return user, renamed


def cached_user_payload(session: Session, user_id: int) -> dict[str, Any]:
    """The user's payload, cached per process (only `remember_user` changes a user)."""
    cache = lookup_cache(session)
    payload = cache.user_payload(user_id)
    if payload is None:
        user = session.get(User, user_id)
        if user is None:
            raise NotFound("No such user.")
        payload = user_payload(user)
        cache.remember_user_payload(user_id, payload)
    return payload


def find_local(session: Session, username: str) -> User | None:
    return session.scalars(
        select(User).where(func.lower(User.username) == username.lower(), User.deleted_at.is_(None)).order_by(User.id).limit(1)
    ).first()


def resolve_username(session: Session, username: object, directory: AuthDirectory, access_token: str) -> User:
    """The user called `username` (case-insensitive): ours, or auth's (then remembered); else 404."""
    username = check_field("username", USERNAME, username)
    user = find_local(session, username)
    if user is not None:
        return user
    if not looks_like_username(username):
        raise NotFound("No such user.")
    found = directory.find(username, access_token)
    if found is None:
        raise NotFound("No such user.")
    return remember_user(session, found.id, found.username, found.created_at)


def remember_identity(session: Session, user_id: int, username: str, created_at: object) -> None:
    """Keep our users table in step with a verified token's claims.

    A user payload in the process cache says the row exists under that name, so a
    request costs no write (and no query) unless the user is new or renamed.
    """
    cache = lookup_cache(session)
    cached = cache.user_payload(user_id)
    if cached is not None and cached["username"] == username:
        return
    user = remember_user(session, user_id, username, parse_timestamp(created_at))
    cache.remember_user_payload(user_id, user_payload(user))
