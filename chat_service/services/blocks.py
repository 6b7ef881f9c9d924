"""Blocking: one user stops another from reaching them.

Blocking ends the friendship (so the direct conversation turns read-only for both and
presence stops, as after unfriending) and drops the pending requests between the two.
It is never announced to the blocked user: what they see is what an unfriend or an
unanswered request shows them. Their new friend requests are stored as usual but do not
reach the blocker while the block lasts (see `friends.send_request`); an unblock delivers
those still pending, which their sender has been waiting on all along. The blocker's typing
never reaches them.
"""

from __future__ import annotations

from typing import Any, Iterable

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.database import transaction
from shared.errors import NotFound
from shared.timestamps import format_timestamp
from shared.validation import invalid

from ..events import queue_event
from ..models import Block, FriendRequest, User, ordered_pair
from .friends import end_friendship
from .payloads import request_payload, user_payload


def blocked_either_way(session: Session, user_id: int, others: Iterable[int]) -> set[int]:
    """Those of `others` whom I blocked or who blocked me."""
    others = list(others)
    if not others:
        return set()
    rows = session.execute(select(Block.blocker_id, Block.blocked_id).where(or_(
        and_(Block.blocker_id == user_id, Block.blocked_id.in_(others)),
        and_(Block.blocked_id == user_id, Block.blocker_id.in_(others)))))
    return {blocked if blocker == user_id else blocker for blocker, blocked in rows}


def block_payload(block: Block, user: User) -> dict[str, Any]:
    return {"user": user_payload(user), "created_at": format_timestamp(block.created_at)}


def list_blocks(session: Session, user_id: int) -> list[dict[str, Any]]:
    rows = session.execute(select(Block, User).join(User, User.id == Block.blocked_id)
                           .where(Block.blocker_id == user_id).order_by(User.username))
    return [block_payload(block, user) for block, user in rows]


@transaction
def block_user(session: Session, me: User, target: User) -> tuple[bool, dict[str, Any]]:
    """Block `target`: (True, block), or (False, the existing block) when already blocked."""
    if target.id == me.id:
        raise invalid("username", "must name someone other than you")
    existing = session.get(Block, (me.id, target.id))
    if existing is not None:
        return False, block_payload(existing, target)
    block = Block(blocker_id=me.id, blocked_id=target.id)
    try:
        with session.begin_nested():
            session.add(block)
    except IntegrityError:
        # The same block, from another of my tabs at the same moment.
        return False, block_payload(session.get(Block, (me.id, target.id)), target)
    end_friendship(session, me, target)
    low, high = ordered_pair(me.id, target.id)
    for request in session.scalars(select(FriendRequest).where(FriendRequest.user_low_id == low,
                                                               FriendRequest.user_high_id == high)):
        # Mine to them reads to them as a cancelled request; theirs to me, like a decline, tells them nothing.
        told = [me.id, target.id] if request.from_user_id == me.id else [me.id]
        queue_event(session, "friend_request_cancelled", {"id": request.id}, told)
    session.execute(delete(FriendRequest).where(FriendRequest.user_low_id == low,
                                                FriendRequest.user_high_id == high))
    payload = block_payload(block, target)
    # My other tabs and devices (never the blocked user).
    queue_event(session, "block", {**payload, "blocked": True}, [me.id])
    return True, payload


@transaction
def unblock_user(session: Session, me: User, target: User) -> None:
    """Lift a block. The friendship it ended stays ended."""
    result = session.execute(delete(Block).where(Block.blocker_id == me.id, Block.blocked_id == target.id))
    if result.rowcount != 1:
        raise NotFound("You have not blocked this user.")
    queue_event(session, "block", {"user": user_payload(target), "blocked": False}, [me.id])
    # Blocking dropped every request between us, so theirs still pending were made during the block.
    # Their sender has seen them pending all along (the block was never announced), so they reach
    # me now, as if just sent, rather than vanish.
    for request in session.scalars(select(FriendRequest).where(FriendRequest.from_user_id == target.id,
                                                                FriendRequest.to_user_id == me.id)):
        queue_event(session, "friend_request", request_payload(request, target, me), [me.id])
