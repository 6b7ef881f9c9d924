"""Thin blueprints: read the form or query, call a backend client, render or redirect."""

from __future__ import annotations

from typing import Any

from ..backends import caller, current_user
from ..state import app_state


def layout_context() -> dict[str, Any]:
    """What the header of every logged-in page shows: the user and the incoming request count."""
    incoming = app_state().chat.friend_requests(caller(), "incoming")
    return {"user": current_user(), "incoming_count": len(incoming)}
