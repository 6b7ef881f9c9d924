"""Friend requests and friendships."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, delete, exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from shared.database import transaction
from shared.errors import Conflict, Forbidden, NotFound
from shared.validation import invalid

from ..events import queue_event
from ..models import Block, FriendRequest, Friendship, User, ordered_pair
from . import conversations
from .payloads import request_payload, user_payload


def are_friends(session: Session, a: int, b: int) -> bool:
    low, high = ordered_pair(a, b)
    return session.get(Friendship, (low, high)) is not None


def friend_ids(session: Session, user_id: int) -> list[int]:
    rows = session.execute(
        select(Friendship.user_low_id, Friendship.user_high_id)
        .where(or_(Friendship.user_low_id == user_id, Friendship.user_high_id == user_id))
    )
    return [high if low == user_id else low for low, high in rows]


def list_friends(session: Session, user_id: int) -> list[User]:
    friend_id = Friendship.user_low_id + Friendship.user_high_id - user_id
    return list(session.scalars(
        select(User).join(Friendship, User.id == friend_id)
        .where(or_(Friendship.user_low_id == user_id, Friendship.user_high_id == user_id))
        .order_by(User.username)
    ))


def _from_someone_i_blocked(request: FriendRequest) -> Any:
    return exists().where(Block.blocker_id == request.to_user_id, Block.blocked_id == request.from_user_id)


def list_requests(session: Session, user_id: int, direction: str) -> list[dict[str, Any]]:
    """My requests; incoming ones from users I blocked never show (their sender sees them pending)."""
    sender, recipient = aliased(User), aliased(User)
    mine = FriendRequest.to_user_id if direction == "incoming" else FriendRequest.from_user_id
    query = (select(FriendRequest, sender, recipient)
             .join(sender, sender.id == FriendRequest.from_user_id)
             .join(recipient, recipient.id == FriendRequest.to_user_id)
             .where(mine == user_id)
             .order_by(FriendRequest.id.desc()))
    if direction == "incoming":
        query = query.where(~_from_someone_i_blocked(FriendRequest))
    rows = session.execute(query)
    return [request_payload(r, s, t) for r, s, t in rows]


@transaction
def send_request(session: Session, me: User, target: User) -> tuple[str, dict[str, Any]]:
    """Ask `target` to be friends: ("requested", request) or, when they had
    already asked me, ("accepted", {friend, conversation_id})."""
    if target.id == me.id:
        raise invalid("username", "must name someone other than you")
    if session.get(Block, (me.id, target.id)) is not None:
        raise Conflict("You have blocked this user; unblock them first.")
    # When they have blocked me, my request is stored and answered like any other but never
    # reaches them: telling me would announce the block.
    hidden = session.get(Block, (target.id, me.id)) is not None
    for _ in range(2):
        if are_friends(session, me.id, target.id):
            raise Conflict("You are already friends.")
        low, high = ordered_pair(me.id, target.id)
        pending = session.scalars(
            select(FriendRequest).where(FriendRequest.user_low_id == low, FriendRequest.user_high_id == high)
        ).first()
        if pending is not None:
            if pending.from_user_id == me.id:
                raise Conflict("A friend request is already pending.")
            return "accepted", accept_request(session, me, pending.id)
        request = FriendRequest(from_user_id=me.id, to_user_id=target.id, user_low_id=low, user_high_id=high)
        try:
            with session.begin_nested():
                session.add(request)
        except IntegrityError:
            # The other user asked at the same moment (or we raced ourselves): look again.
            continue
        payload = request_payload(request, me, target)
        if not hidden:
            queue_event(session, "friend_request", payload, [target.id])
        return "requested", payload
    raise Conflict("A friend request is already pending.")


def _pending_for_recipient(session: Session, me: User, request_id: int) -> FriendRequest:
    request = session.get(FriendRequest, request_id)
    if request is None or session.get(Block, (request.to_user_id, request.from_user_id)) is not None:
        raise NotFound("No such pending friend request.")
    if request.to_user_id != me.id:
        raise Forbidden("Only the recipient can answer a friend request.")
    return request


def _claim(session: Session, request: FriendRequest) -> None:
    # Deleting is the claim: of two concurrent answers only one deletes the row.
    result = session.execute(delete(FriendRequest).where(FriendRequest.id == request.id))
    if result.rowcount != 1:
        raise NotFound("No such pending friend request.")


@transaction
def accept_request(session: Session, me: User, request_id: int) -> dict[str, Any]:
    """Become friends with the request's sender; opens (or reuses) our direct conversation."""
    request = _pending_for_recipient(session, me, request_id)
    friend = session.get(User, request.from_user_id)
    _claim(session, request)
    low, high = ordered_pair(me.id, friend.id)
    session.add(Friendship(user_low_id=low, user_high_id=high))
    session.flush()
    conversation_id = conversations.get_or_create_direct(session, me, friend)
    queue_event(session, "friend_added", {"friend": user_payload(friend), "conversation_id": conversation_id},
                [me.id])
    queue_event(session, "friend_added", {"friend": user_payload(me), "conversation_id": conversation_id},
                [friend.id])
    return {"friend": user_payload(friend), "conversation_id": conversation_id}


@transaction
def decline_request(session: Session, me: User, request_id: int) -> None:
    request = _pending_for_recipient(session, me, request_id)
    _claim(session, request)


@transaction
def cancel_request(session: Session, me: User, request_id: int) -> None:
    """Withdraw a request I sent; its recipient's pages drop it at once."""
    request = session.get(FriendRequest, request_id)
    if request is None:
        raise NotFound("No such pending friend request.")
    if request.from_user_id != me.id:
        raise Forbidden("Only the sender can cancel a friend request.")
    _claim(session, request)
    hidden = session.get(Block, (request.to_user_id, me.id)) is not None
    queue_event(session, "friend_request_cancelled", {"id": request.id},
                [me.id] if hidden else [me.id, request.to_user_id])


def end_friendship(session: Session, me: User, friend: User) -> bool:
    """End a friendship if there is one (telling both); whether there was."""
    low, high = ordered_pair(me.id, friend.id)
    result = session.execute(
        delete(Friendship).where(and_(Friendship.user_low_id == low, Friendship.user_high_id == high))
    )
    if result.rowcount != 1:
        return False
    queue_event(session, "friend_removed", {"friend": user_payload(friend)}, [me.id])
    queue_event(session, "friend_removed", {"friend": user_payload(me)}, [friend.id])
    return True


@transaction
def remove_friend(session: Session, me: User, friend: User) -> None:
    """End a friendship. Conversations and their history stay; sending 1:1 stops."""
    if not end_friendship(session, me, friend):
        raise NotFound("You are not friends with this user.")
