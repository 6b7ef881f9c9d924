"""Sending, paging, typing and read markers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.errors import Conflict, NotFound

from ..db import queue_event
from ..models import Conversation, Member, Message, User, utcnow
from .conversations import member_ids, membership, require_can_post
from .payloads import message_payload, user_payload
from .validation import optional_client_id, positive_id, text_field

MAX_TEXT = 4000
MAX_PAGE = 100
DEFAULT_PAGE = 50


@dataclass(frozen=True)
class SendResult:
    message: dict[str, Any]
    created: bool  # False when client_id named a message this sender had already sent


def _stored(session: Session, sender_id: int, client_id: str, conversation_id: int) -> SendResult | None:
    row = session.execute(
        select(Message, User).join(User, User.id == Message.sender_id)
        .where(Message.sender_id == sender_id, Message.client_id == client_id)
    ).first()
    if row is None:
        return None
    if row[0].conversation_id != conversation_id:
        raise Conflict("This client_id was already used for a message in another conversation.")
    return SendResult(message_payload(row[0], row[1]), created=False)


def send_message(session: Session, sender_id: int, conversation_id: int, text: object,
                 client_id: object = None) -> SendResult:
    """Store a message and broadcast it to every member once committed.

    Idempotent per (sender, client_id): a resend returns the stored message, also
    when two copies race (the unique key decides). A resend follows a lost ack, and
    the instance that lost it may have died between commit and broadcast, so the
    message is broadcast again; connections that had it skip it (realtime's managers).
    """
    text = text_field(text, "text", max_length=MAX_TEXT)
    client_id = optional_client_id(client_id)
    conversation, _ = membership(session, conversation_id, sender_id)
    if client_id is not None:
        stored = _stored(session, sender_id, client_id, conversation_id)
        if stored is not None:
            queue_event(session, "message", stored.message, member_ids(session, conversation_id))
            session.commit()
            return stored
    require_can_post(session, conversation)
    # Lock the conversation before the message takes its id: messages of one
    # conversation then commit in id order, so `after=<last id seen>` never skips
    # one that committed late. (SQLite serialises writers anyway.)
    conversation = session.scalars(
        select(Conversation).where(Conversation.id == conversation_id)
        .with_for_update().execution_options(populate_existing=True)
    ).one()
    message = Message(conversation_id=conversation_id, sender_id=sender_id, text=text, client_id=client_id,
                      created_at=utcnow())
    session.add(message)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        stored = _stored(session, sender_id, client_id, conversation_id) if client_id is not None else None
        if stored is None:
            raise
        return stored
    conversation.last_message_id = message.id
    conversation.last_activity_at = message.created_at
    # My own message is read by me: keeps my marker current without a round trip.
    session.execute(update(Member).where(Member.conversation_id == conversation_id, Member.user_id == sender_id,
                                         Member.last_read_message_id < message.id)
                    .values(last_read_message_id=message.id))
    payload = message_payload(message, session.get(User, sender_id))
    queue_event(session, "message", payload, member_ids(session, conversation_id))
    session.commit()
    return SendResult(payload, created=True)


@dataclass(frozen=True)
class Page:
    messages: list[dict[str, Any]]
    has_more: bool


def history(session: Session, user_id: int, conversation_id: int, *, before: int | None = None,
            after: int | None = None, limit: int = DEFAULT_PAGE) -> Page:
    """A page in chronological order: the newest `limit` by default, or the
    `limit` just before `before` / just after `after`. `has_more` says whether
    more exist beyond the page in the direction being paged."""
    membership(session, conversation_id, user_id)
    query = (select(Message, User).join(User, User.id == Message.sender_id)
             .where(Message.conversation_id == conversation_id))
    if after is not None:
        query = query.where(Message.id > after).order_by(Message.id.asc())
    else:
        if before is not None:
            query = query.where(Message.id < before)
        query = query.order_by(Message.id.desc())
    rows = session.execute(query.limit(limit + 1)).all()
    has_more = len(rows) > limit
    rows = rows[:limit]
    if after is None:
        rows.reverse()
    return Page([message_payload(m, u) for m, u in rows], has_more)


def typing(session: Session, user_id: int, conversation_id: int) -> None:
    """Tell the other members that I am typing (nothing is stored)."""
    conversation, _ = membership(session, conversation_id, user_id)
    require_can_post(session, conversation)
    others = [uid for uid in member_ids(session, conversation_id) if uid != user_id]
    queue_event(session, "typing", {"conversation_id": conversation_id,
                                    "user": user_payload(session.get(User, user_id))}, others)
    session.commit()


def mark_read(session: Session, user_id: int, conversation_id: int, message_id: object) -> bool:
    """Move my read marker forward to `message_id` (never back); tells the other
    members when it moved. Returns whether it moved."""
    message_id = positive_id(message_id, "message_id")
    membership(session, conversation_id, user_id)
    exists = session.scalar(select(Message.id).where(Message.id == message_id,
                                                     Message.conversation_id == conversation_id))
    if exists is None:
        raise NotFound("No such message in this conversation.")
    moved = session.execute(
        update(Member).where(Member.conversation_id == conversation_id, Member.user_id == user_id,
                             Member.last_read_message_id < message_id)
        .values(last_read_message_id=message_id)
    ).rowcount == 1
    if moved:
        others = [uid for uid in member_ids(session, conversation_id) if uid != user_id]
        queue_event(session, "read", {"conversation_id": conversation_id, "user_id": user_id,
                                      "message_id": message_id}, others)
    session.commit()
    return moved
