"""Changing a sent message: editing its text, deleting it (a tombstone stays)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Callable

from sqlalchemy import delete
from sqlalchemy.orm import Session

from shared.database import transaction
from shared.errors import Conflict, Forbidden, NotFound
from shared.timestamps import format_timestamp, utcnow
from shared.validation import Fields, Text

from ..cache import ConversationFacts
from ..events import queue_event
from ..models import Message, Reaction, User
from . import attachments
from .conversations import membership, require_can_post
from .message_details import message_payloads

EDIT = Fields(text=Text(max_length=4000))

# Called inside the deleting transaction, before the event is queued, with the message
# already emptied: whatever else belongs to the message (attachments) goes with it.
DeletionHook = Callable[[Session, Message], None]
_deletion_hooks: list[DeletionHook] = []


def on_message_deleted(hook: DeletionHook) -> DeletionHook:
    """Register `hook` (usable as a decorator) to run whenever a message is deleted."""
    _deletion_hooks.append(hook)
    return hook


# A deleted message's attachments go with its text (their files once the deletion commits).
on_message_deleted(lambda session, message: attachments.delete_attachments_of(session, [message.id]))


def visible_message(session: Session, user_id: int, message_id: int, *,
                    lock: bool = False) -> tuple[Message, ConversationFacts]:
    """The message and its conversation; 404 when it does not exist or I am not a member
    (a message in someone else's conversation is not revealed)."""
    message = session.get(Message, message_id, with_for_update=lock or None)
    if message is None:
        raise NotFound("No such message.")
    try:
        conversation = membership(session, message.conversation_id, user_id)
    except NotFound:
        raise NotFound("No such message.") from None
    return message, conversation


def _own_message(session: Session, user_id: int, message_id: int) -> tuple[Message, ConversationFacts]:
    # Locked, so an edit racing a delete cannot write text back into a tombstone.
    message, conversation = visible_message(session, user_id, message_id, lock=True)
    if message.sender_id != user_id:
        raise Forbidden("Only the sender can change a message.")
    if message.kind != "text":
        # A line about a change to a group is the group's record, not its author's words.
        raise Conflict("A line about a change to the group cannot be edited or deleted.")
    return message, conversation


@transaction
def edit_message(session: Session, user_id: int, message_id: int, text: object, *,
                 edit_window: int) -> Message:
    """Replace my message's text within `edit_window` seconds of sending it (0: never);
    tells every member (`message_updated`)."""
    text = EDIT.check({"text": text})["text"]
    message, conversation = _own_message(session, user_id, message_id)
    if message.deleted_at is not None:
        raise Conflict("This message was deleted.")
    if utcnow() - message.created_at > timedelta(seconds=edit_window) or edit_window == 0:
        raise Conflict("This message can no longer be edited.")
    require_can_post(session, conversation)
    if text == message.text:
        return message
    message.text = text
    message.edited_at = utcnow()
    queue_event(session, "message_updated", updated_payload(message), conversation.member_ids)
    return message


def updated_payload(message: Message) -> dict[str, Any]:
    return {"id": message.id, "conversation_id": message.conversation_id, "text": message.text,
            "edited_at": format_timestamp(message.edited_at)}


@transaction
def delete_message(session: Session, user_id: int, message_id: int) -> None:
    """Delete my message: its text leaves the database, a tombstone keeps its id (and its
    place in paging and replies); tells every member (`message_deleted`). Deleting it again
    changes nothing."""
    message, conversation = _own_message(session, user_id, message_id)
    if message.deleted_at is not None:
        return
    message.text = ""
    message.deleted_at = utcnow()
    session.execute(delete(Reaction).where(Reaction.message_id == message.id))
    for hook in _deletion_hooks:
        hook(session, message)
    queue_event(session, "message_deleted", {"id": message.id, "conversation_id": message.conversation_id,
                                             "sender_id": message.sender_id, "deleted": True},
                conversation.member_ids)


def message_view(session: Session, user_id: int, message: Message) -> dict[str, Any]:
    """The message as `user_id` sees it (reactions with `me`, the reply preview)."""
    payload = message_payloads(session, [(message, session.get(User, message.sender_id))], user_id)[0]
    return attachments.with_attachments(session, [payload])[0]
