"""The JSON shapes of docs/api.md: user, message, request, conversation."""

from __future__ import annotations

from typing import Any

from shared.timestamps import format_timestamp

from ..models import Conversation, FriendRequest, Message, User


def user_payload(user: User) -> dict[str, Any]:
    return {"id": user.id, "username": user.username, "created_at": format_timestamp(user.created_at)}


def message_payload(message: Message, sender: User) -> dict[str, Any]:
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "sender": user_payload(sender),
        "text": message.text,
        "client_id": message.client_id,
        "created_at": format_timestamp(message.created_at),
    }


def request_payload(request: FriendRequest, sender: User, recipient: User) -> dict[str, Any]:
    return {"id": request.id, "from": user_payload(sender), "to": user_payload(recipient),
            "created_at": format_timestamp(request.created_at)}


def conversation_payload(conversation: Conversation, members: list[User], *, last_message: dict | None,
                         unread_count: int, last_read_message_id: int,
                         read_markers: dict[int, int], muted: bool) -> dict[str, Any]:
    return {
        "id": conversation.id,
        "kind": conversation.kind,
        "title": conversation.title,
        "members": [user_payload(m) for m in sorted(members, key=lambda u: u.username.lower())],
        "last_message": last_message,
        "unread_count": unread_count,
        "created_at": format_timestamp(conversation.created_at),
        # Extensions: what the list is sorted by, and where my read marker is.
        "last_activity_at": format_timestamp(conversation.last_activity_at),
        "last_read_message_id": last_read_message_id,
        # Whether I muted it: clients then notify only for mentions of me.
        "muted": muted,
        # Every member's marker, so a client can show "Seen" (and by whom) after a reload;
        # the `read` event keeps it current.
        "read_markers": [{"user_id": m.id, "last_read_message_id": read_markers.get(m.id, 0)}
                         for m in sorted(members, key=lambda u: u.username.lower())],
    }
