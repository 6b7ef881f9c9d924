"""Time stamps on the wire: ISO 8601 UTC with milliseconds and `Z`, in every service.

One format, so a user's `created_at` reads the same from auth, from chat and inside
an access token, and a value one service writes parses back exactly in another.
"""

from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def format_timestamp(value: datetime) -> str:
    """`2026-11-28T05:12:11.123Z` (an aware datetime; naive ones are refused)."""
    if value.tzinfo is None:
        raise ValueError("naive datetime")
    return value.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_timestamp(value: object) -> datetime | None:
    """An aware datetime from an ISO 8601 string with a zone; None for anything else."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None
