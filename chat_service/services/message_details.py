"""What a message shows besides its own row: its reactions and the message it replies to.

Both are read for a whole page of messages at once (one query each), never per message.
"""

from __future__ import annotations

from typing import Any, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Message, Reaction, User
from .payloads import message_payload, system_line_user_ids, user_payload

# Characters of the original shown above a reply: a line, not the whole text.
EXCERPT_LENGTH = 100
# What a reply shows of an original that was deleted (with `deleted: true`).
DELETED_EXCERPT = "deleted"


def reaction_summaries(session: Session, message_ids: Iterable[int],
                       reader_id: int | None) -> dict[int, list[dict[str, Any]]]:
    """Per message: `[{emoji, count, user_ids, me}]`, emoji in the order they were first used.
    `me` (whether `reader_id` is among them) is left out when there is no one reader (events)."""
    ids = list(set(message_ids))
    if not ids:
        return {}
    summaries: dict[int, dict[str, list[int]]] = {}
    for message_id, emoji, user_id in session.execute(
        select(Reaction.message_id, Reaction.emoji, Reaction.user_id).where(Reaction.message_id.in_(ids))
        .order_by(Reaction.message_id, Reaction.created_at, Reaction.user_id)
    ):
        summaries.setdefault(message_id, {}).setdefault(emoji, []).append(user_id)
    result: dict[int, list[dict[str, Any]]] = {}
    for message_id, by_emoji in summaries.items():
        result[message_id] = []
        for emoji, user_ids in by_emoji.items():
            summary: dict[str, Any] = {"emoji": emoji, "count": len(user_ids), "user_ids": user_ids}
            if reader_id is not None:
                summary["me"] = reader_id in user_ids
            result[message_id].append(summary)
    return result


def excerpt(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= EXCERPT_LENGTH else line[:EXCERPT_LENGTH - 1] + "\u2026"


def reply_preview(original: Message, sender: User) -> dict[str, Any]:
    deleted = original.deleted_at is not None
    return {"id": original.id, "sender": user_payload(sender), "deleted": deleted,
            "excerpt": DELETED_EXCERPT if deleted else excerpt(original.text)}


def reply_previews(session: Session, message_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    ids = list(set(message_ids))
    if not ids:
        return {}
    return {original.id: reply_preview(original, sender) for original, sender in session.execute(
        select(Message, User).join(User, User.id == Message.sender_id).where(Message.id.in_(ids)))}


def message_payloads(session: Session, rows: list[tuple[Message, User]], reader_id: int) -> list[dict[str, Any]]:
    """Messages as `reader_id` sees them, with reactions and reply previews."""
    reactions = reaction_summaries(session, (m.id for m, _ in rows), reader_id)
    replies = reply_previews(session, (m.reply_to_id for m, _ in rows if m.reply_to_id is not None))
    deleted = deleted_user_ids(session, set().union(*(system_line_user_ids(m.data) for m, _ in rows
                                                      if m.kind == "system")))
    return [message_payload(m, u, reactions=reactions.get(m.id), reply_to=replies.get(m.reply_to_id),
                            deleted_user_ids=deleted)
            for m, u in rows]


def deleted_user_ids(session: Session, user_ids: set[int]) -> set[int]:
    if not user_ids:
        return set()
    return set(session.scalars(select(User.id).where(User.id.in_(user_ids), User.deleted_at.is_not(None))))
