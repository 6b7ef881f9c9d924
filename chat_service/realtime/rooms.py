"""Socket.IO rooms."""

from __future__ import annotations


USER_ROOM_PREFIX = "user:"


def user_room(user_id: int) -> str:
    """The room every connection of the user joins. Only ever built, never parsed back."""
    return f"{USER_ROOM_PREFIX}{user_id}"


def is_user_room(room: str) -> bool:
    """User rooms are spread over shards by the sharded manager; other rooms are not."""
    return room.startswith(USER_ROOM_PREFIX)
