"""Emoji reactions on messages: one of each emoji per user and message."""

from __future__ import annotations

from typing import Any

import emoji as emoji_data
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.database import transaction
from shared.errors import Conflict
from shared.validation import invalid, text_problem

from ..events import queue_event
from ..models import Reaction, User
from .conversations import require_can_post
from .message_changes import visible_message
from .message_details import reaction_summaries
from .payloads import user_payload


def normalize_emoji(value: object) -> str:
    """One emoji (a single grapheme the Unicode emoji list knows), in its fully qualified
    form, so "\u2764" and "\u2764\ufe0f" count as one reaction; else 422."""
    if not isinstance(value, str) or text_problem(value) or not emoji_data.is_emoji(value):
        raise invalid("emoji", "must be a single emoji")
    return emoji_data.emojize(emoji_data.demojize(value))


def _changed(session: Session, conversation_member_ids: frozenset[int], message_id: int, conversation_id: int,
             user_id: int, emoji: str, added: bool) -> None:
    summaries = reaction_summaries(session, [message_id], None).get(message_id, [])
    queue_event(session, "reaction", {"conversation_id": conversation_id, "message_id": message_id,
                                      "user_id": user_id, "emoji": emoji, "added": added,
                                      "reactions": summaries}, conversation_member_ids)


def _mine(session: Session, user_id: int, message_id: int) -> list[dict[str, Any]]:
    return reaction_summaries(session, [message_id], user_id).get(message_id, [])


@transaction
def add_reaction(session: Session, user_id: int, message_id: int, emoji: object) -> list[dict[str, Any]]:
    """Add my `emoji` to the message (again: nothing changes); the message's reactions as I see them."""
    emoji = normalize_emoji(emoji)
    message, conversation = visible_message(session, user_id, message_id)
    if message.deleted_at is not None:
        raise Conflict("This message was deleted.")
    require_can_post(session, conversation)
    if session.get(Reaction, (message_id, user_id, emoji)) is None:
        try:
            with session.begin_nested():
                session.add(Reaction(message_id=message_id, user_id=user_id, emoji=emoji))
                session.flush()
        except IntegrityError:
            return _mine(session, user_id, message_id)  # the same reaction, added concurrently
        _changed(session, conversation.member_ids, message_id, message.conversation_id, user_id, emoji, True)
    return _mine(session, user_id, message_id)


@transaction
def remove_reaction(session: Session, user_id: int, message_id: int, emoji: object) -> list[dict[str, Any]]:
    """Take my `emoji` off the message (not there: nothing changes)."""
    emoji = normalize_emoji(emoji)
    message, conversation = visible_message(session, user_id, message_id)
    removed = session.execute(delete(Reaction).where(Reaction.message_id == message_id, Reaction.user_id == user_id,
                                                     Reaction.emoji == emoji)).rowcount
    if removed:
        _changed(session, conversation.member_ids, message_id, message.conversation_id, user_id, emoji, False)
    return _mine(session, user_id, message_id)


def reactors(session: Session, user_id: int, message_id: int) -> list[dict[str, Any]]:
    """Who reacted with what: `[{emoji, count, me, users: [user]}]`."""
    visible_message(session, user_id, message_id)
    summaries = _mine(session, user_id, message_id)
    ids = {uid for summary in summaries for uid in summary["user_ids"]}
    users = {u.id: user_payload(u) for u in session.scalars(select(User).where(User.id.in_(ids)))} if ids else {}
    return [{**summary, "users": [users[uid] for uid in summary["user_ids"] if uid in users]}
            for summary in summaries]
