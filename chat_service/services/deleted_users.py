"""An account deleted in auth (shared.account_deletions): what chat does about it.

The user's row stays, marked deleted, so their messages keep a sender; every payload then
names them "Deleted user" (payloads.py), and their avatar is deleted. Their friendships and pending friend requests go,
so their direct conversations become read-only and their friends' lists drop them at once
(`friend_removed`), as do the other side's pending requests (`friend_request_cancelled`). Applying it again changes nothing, so every instance may apply what it
hears without coordinating with the others.
"""

from __future__ import annotations

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from shared.database import transaction
from shared.timestamps import utcnow

from ..cache import lookup_cache
from ..events import queue_event
from ..models import FriendRequest, Friendship, User
from .avatars import discard_avatar
from .friends import friend_ids
from .payloads import user_payload


def forget_deleted_user(session: Session, user_id: int) -> None:
    _mark_deleted(session, user_id)
    # After the commit, on this instance; other instances drop theirs when they hear the announcement.
    lookup_cache(session).forget_user(user_id)


@transaction
def _mark_deleted(session: Session, user_id: int) -> None:
    user = session.get(User, user_id)
    if user is None:
        return  # never used chat: nothing of theirs is here
    if user.deleted_at is None:
        user.deleted_at = utcnow()
    discard_avatar(session, user)
    friends = friend_ids(session, user_id)
    session.execute(delete(Friendship).where(
        or_(Friendship.user_low_id == user_id, Friendship.user_high_id == user_id)))
    theirs = or_(FriendRequest.from_user_id == user_id, FriendRequest.to_user_id == user_id)
    for request in session.scalars(select(FriendRequest).where(theirs)):
        other = request.to_user_id if request.from_user_id == user_id else request.from_user_id
        queue_event(session, "friend_request_cancelled", {"id": request.id}, [other])
    session.execute(delete(FriendRequest).where(theirs))
    session.flush()
    if friends:
        queue_event(session, "friend_removed", {"friend": user_payload(user)}, friends)

