"""Sending, paging, typing and read markers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from shared.database import transaction
from shared.errors import Conflict, Forbidden, NotFound
from shared.timestamps import format_timestamp, utcnow
from shared.validation import Fields, Id, Text, check_field, invalid

from ..cache import ConversationFacts
from ..db import message_writer
from ..events import queue_event
from ..message_writer import STORE_ONE
from ..models import Conversation, Member, Message, User
from . import attachments, blocks
from .conversations import membership, readable_up_to, require_can_post
from .message_details import message_payloads, reply_preview
from .users import cached_user_payload

MAX_TEXT = 4000
MAX_PAGE = 100
DEFAULT_PAGE = 50

MESSAGE = Fields(text=Text(max_length=MAX_TEXT), client_id=Text(max_length=64, required=False, blank=True),
                 reply_to=Id(required=False))
# With attachments the text is optional (a picture alone is a message).
MESSAGE_WITH_ATTACHMENTS = Fields(text=Text(max_length=MAX_TEXT, min_length=0, required=False, blank=True),
                                  client_id=MESSAGE.fields["client_id"], reply_to=MESSAGE.fields["reply_to"])

CONVERSATIONS = Conversation.__table__
MEMBERS = Member.__table__
MESSAGES = Message.__table__


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
    previous_id = session.scalar(select(func.max(Message.id)).where(Message.conversation_id == conversation_id,
                                                                     Message.id < row[0].id))
    payload = {**message_payloads(session, [(row[0], row[1])], sender_id)[0], "previous_id": previous_id}
    return SendResult(attachments.with_attachments(session, [payload])[0], created=False)


def _broadcast_again(session: Session, stored: SendResult, conversation: ConversationFacts) -> SendResult:
    queue_event(session, "message", stored.message, conversation.member_ids)
    return stored


# PostgreSQL stores a message with one statement (`message_writer.STORE_ONE`), which also
# moves the conversation's and the sender's markers and returns the conversation's previous
# message id; messages sent at the same moment share a statement and its commit (group commit).
# SQLite (development and tests) serialises writers, so plain statements in one transaction do.
_SQLITE_INSERT = (sqlite_insert(MESSAGES).on_conflict_do_nothing(index_elements=["sender_id", "client_id"])
                  .returning(MESSAGES.c.id))
_SQLITE_TOUCH_CONVERSATION = (update(CONVERSATIONS).where(CONVERSATIONS.c.id == bindparam("in_conversation"))
                              .values(last_message_id=bindparam("new_message_id"),
                                      last_activity_at=bindparam("now")))
_SQLITE_MARK_READ = (update(MEMBERS).where(MEMBERS.c.conversation_id == bindparam("in_conversation"),
                                           MEMBERS.c.user_id == bindparam("by_sender"),
                                           MEMBERS.c.last_read_message_id < bindparam("new_message_id"))
                     .values(last_read_message_id=bindparam("new_message_id")))


def _store(session: Session, row: dict[str, Any], *, own_statement: bool = True) -> tuple[int, int | None] | None:
    """Insert the message and move the conversation's and my marker to it; its id and
    the id of the conversation's message before it, or None (and nothing changed) when
    (sender_id, client_id) names a message already. On PostgreSQL the message is committed
    on return (by the process's message writer), unless not `own_statement`: then it is
    written in the session's transaction, for actions that write more."""
    writer = message_writer(session)
    if writer is not None:
        if own_statement:
            return writer.store(row)
        stored = session.connection().exec_driver_sql(STORE_ONE, row).first()
        return None if stored is None else (stored[0], stored[1])
    connection = session.connection()
    previous_id = connection.execute(select(CONVERSATIONS.c.last_message_id)
                                     .where(CONVERSATIONS.c.id == row["conversation_id"])).scalar()
    message_id = connection.execute(_SQLITE_INSERT, row).scalar()
    if message_id is None:
        return None
    ids = {"in_conversation": row["conversation_id"], "by_sender": row["sender_id"],
           "new_message_id": message_id, "now": row["created_at"]}
    connection.execute(_SQLITE_TOUCH_CONVERSATION, ids)
    connection.execute(_SQLITE_MARK_READ, ids)
    return message_id, previous_id


def _reply_target(session: Session, conversation_id: int, message_id: int) -> dict[str, Any]:
    """The preview of the message replied to; 422 unless it is in this conversation."""
    row = session.execute(select(Message, User).join(User, User.id == Message.sender_id)
                          .where(Message.id == message_id, Message.conversation_id == conversation_id)).first()
    if row is None:
        raise invalid("reply_to", "must be the id of a message in this conversation")
    return reply_preview(row[0], row[1])


@transaction
def send_message(session: Session, sender_id: int, conversation_id: int, text: object,
                 client_id: object = None, attachment_ids: object = None, reply_to: object = None) -> SendResult:
    """Store a message and broadcast it to every member once committed.

    Idempotent per (sender, client_id): a resend returns the stored message, also
    when two copies race (the unique key decides). A resend follows a lost ack, and
    the instance that lost it may have died between commit and broadcast, so the
    message is broadcast again; connections that had it skip it (realtime's managers).

    What is looked up (membership, friendship, the sender) comes from the process
    cache; on PostgreSQL the write is one statement (`message_writer.STORE_ONE`), shared with
    the messages sent at the same moment, or joined by the attachments' update in one
    transaction when `attachment_ids` names uploads.
    """
    attachment_ids = attachments.check_ids(attachment_ids) if attachment_ids is not None else []
    values = (MESSAGE_WITH_ATTACHMENTS if attachment_ids else MESSAGE).check(
        {"text": text, "client_id": client_id, "reply_to": reply_to})
    text, client_id, reply_to = values["text"] or "", values["client_id"], values["reply_to"]
    conversation = membership(session, conversation_id, sender_id)
    replied = _reply_target(session, conversation_id, reply_to) if reply_to is not None else None
    try:
        require_can_post(session, conversation)
    except Forbidden:
        # A resend of what was stored before the friendship ended still gets its answer.
        stored = _stored(session, sender_id, client_id, conversation_id) if client_id is not None else None
        if stored is None:
            raise
        return _broadcast_again(session, stored, conversation)
    sender = cached_user_payload(session, sender_id)
    now = utcnow()
    stored = _store(session, {"conversation_id": conversation_id, "sender_id": sender_id, "text": text,
                              "client_id": client_id, "created_at": now, "reply_to_id": reply_to},
                    own_statement=not attachment_ids)
    if stored is None:
        # This sender already used client_id: answer with (and broadcast again) the stored one.
        stored = _stored(session, sender_id, client_id, conversation_id) if client_id is not None else None
        if stored is None:
            raise NotFound("No such conversation.")
        return _broadcast_again(session, stored, conversation)
    message_id, previous_id = stored
    # previous_id (an extension): the conversation's message before this one, so a client
    # that does not have it knows it missed something and fetches it (`after=`).
    payload = {"id": message_id, "conversation_id": conversation_id, "sender": sender,
               "sender_deleted": bool(sender.get("deleted")), "text": text, "client_id": client_id,
               "created_at": format_timestamp(now), "previous_id": previous_id,
               "edited_at": None, "deleted": False, "reactions": [], "reply_to": replied,
               "kind": "text", "data": None,
               "attachments": attachments.attach(session, sender_id, message_id, attachment_ids)
               if attachment_ids else []}
    queue_event(session, "message", payload, conversation.member_ids)
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
    cutoff = readable_up_to(session, conversation_id, user_id)
    query = (select(Message, User).join(User, User.id == Message.sender_id)
             .where(Message.conversation_id == conversation_id))
    if cutoff is not None:
        query = query.where(Message.id <= cutoff)
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
    return Page(attachments.with_attachments(session, message_payloads(session, rows, user_id)), has_more)


@transaction
def typing(session: Session, user_id: int, conversation_id: int) -> None:
    """Tell the other members that I am typing (nothing is stored), except those who
    blocked me or whom I blocked."""
    conversation = membership(session, conversation_id, user_id)
    require_can_post(session, conversation)
    others = conversation.member_ids - {user_id}
    if conversation.direct_pair is None:
        others -= blocks.blocked_either_way(session, user_id, others)
    queue_event(session, "typing", {"conversation_id": conversation_id,
                                    "user": cached_user_payload(session, user_id)}, others)


@transaction
def mark_read(session: Session, user_id: int, conversation_id: int, message_id: object) -> bool:
    """Move my read marker forward to `message_id` (never back); tells the other
    members when it moved (not when I am a former member: they hear nothing of me). Returns
    whether it moved."""
    message_id = check_field("message_id", Id(), message_id)
    cutoff = readable_up_to(session, conversation_id, user_id)
    exists = session.scalar(select(Message.id).where(Message.id == message_id,
                                                     Message.conversation_id == conversation_id))
    if exists is None or (cutoff is not None and message_id > cutoff):
        raise NotFound("No such message in this conversation.")
    moved = session.execute(
        update(MEMBERS).where(MEMBERS.c.conversation_id == conversation_id, MEMBERS.c.user_id == user_id,
                              MEMBERS.c.last_read_message_id < message_id)
        .values(last_read_message_id=message_id)
    ).rowcount == 1
    if moved and cutoff is None:
        others = membership(session, conversation_id, user_id).member_ids - {user_id}
        queue_event(session, "read", {"conversation_id": conversation_id, "user_id": user_id,
                                      "message_id": message_id}, others)
    return moved
