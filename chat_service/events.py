"""Events: what an action tells users about a change it made.

Action functions queue events on their session (`queue_event`); they are handed
to the publisher only after that session's transaction commits, and dropped on
rollback, so nobody ever hears about a change that did not happen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Iterable

from sqlalchemy.orm import Session

PENDING_EVENTS = "pending_events"


@dataclass(frozen=True)
class Event:
    name: str
    payload: dict[str, Any]
    user_ids: tuple[int, ...]  # every connection of these users gets it


Publisher = Callable[[list[Event]], None]


def queue_event(session: Session, name: str, payload: dict[str, Any], user_ids: Iterable[int]) -> None:
    """Publish `name` to every connection of `user_ids` once this session commits."""
    recipients = tuple(sorted(set(user_ids)))
    if recipients:
        session.info.setdefault(PENDING_EVENTS, []).append(Event(name, payload, recipients))
