"""The JSON shapes of docs/api.md: user, message, request, conversation."""

from __future__ import annotations

from typing import Any

from shared.timestamps import format_timestamp

from ..models import Conversation, FriendRequest, Message, User


DELETED_USER_NAME = "Deleted user"


def user_payload(user: User) -> dict[str, Any]:
    if user.deleted_at is not None:
        return _deleted_user_payload(user.id, format_timestamp(user.created_at))
    return {"id": user.id, "username": user.username, "created_at": format_timestamp(user.created_at),
            "avatar_url": avatar_url(user)}


def _deleted_user_payload(user_id: int, created_at: str | None) -> dict[str, Any]:
    # The name goes with the account; `deleted` lets clients show it differently.
    return {"id": user_id, "username": DELETED_USER_NAME, "created_at": created_at, "avatar_url": None,
            "deleted": True}


def avatar_url(user: User) -> str | None:
    """Where the avatar is (services/avatars.py says who may fetch it); a new one gets a new
    address, so a browser's cached copy of the old one is never shown for it."""
    if user.avatar_key is None:
        return None
    return f"/api/users/{user.id}/avatar?v={user.avatar_key[:12]}"


def system_line_text(actor_name: str, data: dict[str, Any]) -> str:
    """What a system line (a change to a group, services/groups.py) says, from its `data`."""
    def names(key: str) -> str:
        found = [user["username"] for user in data.get(key) or []]
        return found[0] if len(found) == 1 else ", ".join(found[:-1]) + " and " + found[-1]

    action = data["action"]
    if action == "renamed":
        return f"{actor_name} renamed the group to “{data['title']}”"
    if action == "added":
        return f"{actor_name} added {names('users')}"
    if action == "made_admin":
        return f"{actor_name} made {names('users')} an admin"
    text = f"{actor_name} removed {names('users')}" if action == "removed" else f"{names('users')} left"
    if data.get("admins"):
        text += f"; {names('admins')} is now an admin"
    return text


def system_line_user_ids(data: dict[str, Any] | None) -> set[int]:
    """Whom a system line names besides its sender (whose name it also shows)."""
    return {user["id"] for key in ("users", "admins") for user in (data or {}).get(key) or []}


def _anonymised_system_line(message: Message, sender: User, deleted_user_ids: set[int]) -> tuple[str, Any]:
    """A system line's text and data with every deleted account named "Deleted user": they were
    written with the names the accounts had then, so they are rewritten when read."""
    named = system_line_user_ids(message.data) & deleted_user_ids
    if message.data is None or (sender.deleted_at is None and not named):
        return message.text, message.data
    data = {key: [_deleted_user_payload(user["id"], user.get("created_at")) if user["id"] in named else user
                  for user in value]
            if key in ("users", "admins") else value
            for key, value in message.data.items()}
    actor_name = DELETED_USER_NAME if sender.deleted_at is not None else sender.username
    return system_line_text(actor_name, data), data


def message_payload(message: Message, sender: User, *, reactions: list[dict[str, Any]] | None = None,
                    reply_to: dict[str, Any] | None = None,
                    deleted_user_ids: set[int] = frozenset()) -> dict[str, Any]:
    """`reactions` as seen by the reader (`me`) and `reply_to` come from `message_details`;
    `deleted_user_ids` holds the deleted accounts among those a system line names."""
    text, data = message.text, message.data
    if message.kind == "system":
        text, data = _anonymised_system_line(message, sender, deleted_user_ids)
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "sender": user_payload(sender),
        "sender_deleted": sender.deleted_at is not None,
        "text": text,
        "client_id": message.client_id,
        "created_at": format_timestamp(message.created_at),
        # Extensions: edits, tombstones, reactions and replies.
        "edited_at": format_timestamp(message.edited_at) if message.edited_at else None,
        "deleted": message.deleted_at is not None,
        "reactions": reactions or [],
        "reply_to": reply_to,
        # Extensions: "text" or "system" (a change to a group; `text` tells it, `data` says it).
        "kind": message.kind or "text",
        "data": data,
    }


def request_payload(request: FriendRequest, sender: User, recipient: User) -> dict[str, Any]:
    return {"id": request.id, "from": user_payload(sender), "to": user_payload(recipient),
            "created_at": format_timestamp(request.created_at)}


def member_payloads(conversation: Conversation, members: list[User], roles: dict[int, str]) -> list[dict[str, Any]]:
    """The members, by name; in a group each carries its `role` ("admin" or "member")."""
    ordered = sorted(members, key=lambda u: u.username.lower())
    if conversation.kind != "group":
        return [user_payload(m) for m in ordered]
    return [{**user_payload(m), "role": roles.get(m.id, "member")} for m in ordered]


def conversation_payload(conversation: Conversation, members: list[User], *, last_message: dict | None,
                         unread_count: int, last_read_message_id: int, unread_mentions: int = 0,
                         read_markers: dict[int, int], roles: dict[int, str] | None = None,
                         membership: str = "member", read_only: bool = False,
                         blocked: bool = False, muted: bool = False) -> dict[str, Any]:
    return {
        "id": conversation.id,
        "kind": conversation.kind,
        "title": conversation.title,
        "members": member_payloads(conversation, members, roles or {}),
        "last_message": last_message,
        "unread_count": unread_count,
        # Of those, the ones in a group that mention me: a muted group still counts them.
        "unread_mentions": unread_mentions,
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
        # "member", or "left" / "removed": a former member reads the history up to their
        # departure and nothing after it (members, title and markers are as they left them).
        "membership": membership,
        # Nothing can be sent: a former member, or a direct chat whose pair are not friends.
        "read_only": read_only,
        # Direct conversations: I have blocked the other member.
        "blocked": blocked,
    }
