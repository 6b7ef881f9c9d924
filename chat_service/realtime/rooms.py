"""Socket.IO rooms."""

from __future__ import annotations


def user_room(user_id: int) -> str:
    """The room every connection of the user joins. Only ever built, never parsed back."""
    return f"user:{user_id}"
