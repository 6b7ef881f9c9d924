"""Attachments: an upload is owned by its uploader until sent with a message, then
readable by the conversation's members. Files are removed from storage only after the
transaction that removed their rows commits (`remove_files_after_commit`)."""

from __future__ import annotations

import re
import unicodedata
from datetime import timedelta
from typing import Any, Iterable

from sqlalchemy import delete, event, select, update
from sqlalchemy.orm import Session, sessionmaker

from shared.database import transaction
from shared.errors import NotFound
from shared.timestamps import utcnow
from shared.validation import invalid

from ..models import Attachment, Message
from ..storage import DirectoryStorage
from . import conversations
from .media import Content

MAX_PER_MESSAGE = 10
MAX_NAME = 255
FILES_TO_DELETE = "attachment_files_to_delete"
# Abandoned uploads removed per pass, so one pass never holds a long transaction.
SWEEP_BATCH = 500


def display_name(filename: str | None) -> str:
    """The uploader's file name as shown: its last path segment, without control or
    format characters, at most MAX_NAME characters. Metadata only: stored files get random keys."""
    name = re.split(r"[/\\]", filename or "")[-1]
    name = "".join(c for c in name if unicodedata.category(c) not in ("Cc", "Cf", "Cs", "Co", "Cn")).strip()
    return name[:MAX_NAME] or "file"


def attachment_payload(attachment: Attachment) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": attachment.id, "name": attachment.name, "size": attachment.size,
        "content_type": attachment.content_type, "kind": attachment.kind,
        "url": f"/api/attachments/{attachment.id}",
    }
    if attachment.thumbnail_key is not None:
        payload["thumbnail_url"] = f"/api/attachments/{attachment.id}/thumbnail"
    if attachment.width is not None:
        payload["width"], payload["height"] = attachment.width, attachment.height
    return payload


@transaction
def record_upload(session: Session, uploader_id: int, filename: str | None, content: Content) -> dict[str, Any]:
    """The stored upload as an attachment of `uploader_id`, in no message yet."""
    attachment = Attachment(uploader_id=uploader_id, message_id=None, name=display_name(filename),
                            size=content.size, content_type=content.content_type, kind=content.kind,
                            storage_key=content.storage_key, thumbnail_key=content.thumbnail_key,
                            width=content.width, height=content.height, created_at=utcnow())
    session.add(attachment)
    session.flush()
    return attachment_payload(attachment)


def check_ids(value: object) -> list[int]:
    """`attachment_ids` of a send: a list of 1..MAX_PER_MESSAGE distinct ids (an empty list: none)."""
    if not isinstance(value, list) or len(value) > MAX_PER_MESSAGE or any(
            isinstance(i, bool) or not isinstance(i, int) or not 1 <= i <= 2**31 - 1 for i in value):
        raise invalid("attachment_ids", f"must be a list of at most {MAX_PER_MESSAGE} attachment ids")
    if len(set(value)) != len(value):
        raise invalid("attachment_ids", "must not name an attachment twice")
    return value


def attach(session: Session, uploader_id: int, message_id: int, attachment_ids: list[int]) -> list[dict[str, Any]]:
    """Put the uploader's own unattached uploads into the message (inside the sending
    transaction, so a refusal also takes the message back). A concurrent send of the
    same upload waits for this one's row locks and then finds it taken."""
    claimed = session.execute(
        update(Attachment)
        .where(Attachment.id.in_(attachment_ids), Attachment.uploader_id == uploader_id,
               Attachment.message_id.is_(None))
        .values(message_id=message_id)
    ).rowcount
    if claimed != len(attachment_ids):
        raise invalid("attachment_ids", "must name your own uploads that are not in a message yet")
    return of_messages(session, [message_id]).get(message_id, [])


def of_messages(session: Session, message_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    """Each message's attachments, in upload order (messages without any are absent)."""
    ids = list(message_ids)
    if not ids:
        return {}
    found: dict[int, list[dict[str, Any]]] = {}
    for attachment in session.scalars(select(Attachment).where(Attachment.message_id.in_(ids))
                                      .order_by(Attachment.id)):
        found.setdefault(attachment.message_id, []).append(attachment_payload(attachment))
    return found


def with_attachments(session: Session, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Message payloads with their `attachments` (a list, empty when none), in place."""
    found = of_messages(session, [m["id"] for m in messages])
    for message in messages:
        message["attachments"] = found.get(message["id"], [])
    return messages


def readable(session: Session, user_id: int, attachment_id: int) -> Attachment:
    """The attachment if `user_id` may read it: its uploader before it is sent, the
    conversation's members after (a former member: up to their departure). Anyone else gets the same 404 as for no attachment."""
    attachment = session.get(Attachment, attachment_id)
    if attachment is not None:
        if attachment.message_id is None:
            if attachment.uploader_id == user_id:
                return attachment
        else:
            conversation_id = session.scalar(select(Message.conversation_id)
                                             .where(Message.id == attachment.message_id))
            try:
                # A former member reads what was sent up to their departure.
                cutoff = conversations.readable_up_to(session, conversation_id, user_id)
            except NotFound:
                pass
            else:
                if cutoff is None or attachment.message_id <= cutoff:
                    return attachment
    raise NotFound("No such attachment.")


def delete_attachments_of(session: Session, message_ids: Iterable[int]) -> int:
    """Delete the attachments of these messages, inside the caller's transaction (message
    deletion calls this before deleting the messages); their files go once it commits."""
    return _delete_where(session, Attachment.message_id.in_(list(message_ids)))


@transaction
def remove_abandoned(session: Session, max_age_seconds: int) -> int:
    """Delete uploads older than `max_age_seconds` that were never sent (at most SWEEP_BATCH)."""
    cutoff = utcnow() - timedelta(seconds=max_age_seconds)
    ids = session.scalars(select(Attachment.id).where(Attachment.message_id.is_(None),
                                                      Attachment.created_at < cutoff).limit(SWEEP_BATCH)).all()
    return _delete_where(session, Attachment.id.in_(ids)) if ids else 0


def _delete_where(session: Session, condition) -> int:
    rows = session.execute(delete(Attachment).where(condition)
                           .returning(Attachment.storage_key, Attachment.thumbnail_key)).all()
    keys = session.info.setdefault(FILES_TO_DELETE, [])
    for storage_key, thumbnail_key in rows:
        keys.append(storage_key)
        if thumbnail_key is not None:
            keys.append(thumbnail_key)
    return len(rows)


def remove_files_after_commit(sessions: sessionmaker, storage: DirectoryStorage) -> None:
    """Delete the files of deleted attachments once their transaction commits; keep them on rollback."""

    @event.listens_for(sessions, "after_commit")
    def _remove(session: Session) -> None:
        for key in session.info.pop(FILES_TO_DELETE, ()):
            storage.delete(key)

    @event.listens_for(sessions, "after_rollback")
    def _keep(session: Session) -> None:
        session.info.pop(FILES_TO_DELETE, None)
