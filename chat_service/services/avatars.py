"""Avatars: a user's picture, shown wherever their name is.

chat keeps it, not auth: its bytes live in the attachments' storage and are served the way
attachments are, and who may see it follows who may see the user here. The picture is drawn
again as a small square (services/media.py), so nothing of the upload (metadata, other frames)
is kept. Whoever may see the user's name may see it: themselves, their friends, the other side
of a pending friend request, and whoever shares or shared a conversation with them; never
someone they blocked. A change reaches the open pages of those who see it now (`user_updated`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from shared.database import transaction

from ..events import queue_event
from ..models import Block, FriendRequest, Member, User, ordered_pair
from .attachments import FILES_TO_DELETE
from .friends import are_friends, friend_ids
from .payloads import user_payload

MAX_UPLOAD_BYTES = 5 * 1024 * 1024


@transaction
def set_avatar(session: Session, user_id: int, key: str) -> dict[str, Any]:
    """Make the stored square `key` the user's avatar; the one it replaces goes after the commit."""
    user = session.get(User, user_id)
    discard_avatar(session, user)
    user.avatar_key = key
    return _announce(session, user)


@transaction
def remove_avatar(session: Session, user_id: int) -> dict[str, Any]:
    user = session.get(User, user_id)
    discard_avatar(session, user)
    return _announce(session, user)


def discard_avatar(session: Session, user: User) -> None:
    """Clear the avatar inside the caller's transaction; its file goes once that commits."""
    if user.avatar_key is not None:
        session.info.setdefault(FILES_TO_DELETE, []).append(user.avatar_key)
        user.avatar_key = None


def _announce(session: Session, user: User) -> dict[str, Any]:
    session.flush()
    payload = user_payload(user)
    queue_event(session, "user_updated", {"user": payload}, _shown_to(session, user.id))
    return payload


def _shown_to(session: Session, user_id: int) -> set[int]:
    """Who sees the user on an open page now: themselves, friends, current co-members (not whom they blocked)."""
    mine, theirs = aliased(Member), aliased(Member)
    co_members = session.scalars(
        select(theirs.user_id).join(mine, mine.conversation_id == theirs.conversation_id)
        .where(mine.user_id == user_id, mine.left_message_id.is_(None), theirs.left_message_id.is_(None))
    )
    blocked = set(session.scalars(select(Block.blocked_id).where(Block.blocker_id == user_id)))
    return ({user_id, *friend_ids(session, user_id), *co_members}) - blocked


def readable(session: Session, viewer_id: int, user_id: int) -> str | None:
    """The storage key of `user_id`'s avatar if `viewer_id` may see it, else None (as for no avatar)."""
    user = session.get(User, user_id)
    if user is None or user.avatar_key is None or user.deleted_at is not None:
        return None
    if viewer_id == user_id:
        return user.avatar_key
    if session.get(Block, (user_id, viewer_id)) is not None:
        return None
    low, high = ordered_pair(viewer_id, user_id)
    mine, theirs = aliased(Member), aliased(Member)
    sees = (are_friends(session, viewer_id, user_id)
            or session.scalar(select(FriendRequest.id).where(FriendRequest.user_low_id == low,
                                                             FriendRequest.user_high_id == high)) is not None
            or session.scalar(select(mine.conversation_id)
                              .join(theirs, theirs.conversation_id == mine.conversation_id)
                              .where(mine.user_id == viewer_id, theirs.user_id == user_id).limit(1)) is not None)
    return user.avatar_key if sees else None
