"""Thin blueprints: read the form or query, call a backend client, render or redirect."""

from __future__ import annotations

from typing import Any

from ..backends import caller, current_user
from ..state import app_state


def layout_context() -> dict[str, Any]:
    """What the header of every logged-in page shows: the user (with the avatar chat keeps) and
    the incoming request count."""
    chat = app_state().chat
    incoming = chat.friend_requests(caller(), "incoming")
    user = {**current_user(), "avatar_url": chat.me(caller())["avatar_url"]}
    return {"user": user, "incoming_count": len(incoming)}
