"""What every message asks but that rarely changes, kept per process.

A send needs the conversation's kind and members, whether a direct pair are still
friends, and the sender's user payload. Reading them from the database on every
event cost a third of a message's CPU, so this process keeps them:

- conversations (kind, direct pair, member ids): members change only when a
  conversation is created or, in a group, when someone joins -- both publish a
  `conversation` event, which drops the entry on every instance;
- friendships, positive answers only: ending one publishes `friend_removed`, which
  drops the entry on every instance. The Redis queue is at-most-once, so entries
  also expire after `friendship_ttl` seconds: a removed friend whose invalidation
  was lost can post for at most that long;
- user payloads: written only by `users.remember_user`, which drops the entry when
  a username changes (a sender always passes it on this instance first).

Invalidation runs when this process commits the change (`db.Database`) and when any
instance's event arrives through the Socket.IO manager (`realtime`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Iterable

from sqlalchemy.orm import Session

from .models import ordered_pair

SESSION_KEY = "lookup_cache"


@dataclass(frozen=True)
class ConversationFacts:
    id: int
    kind: str
    direct_pair: tuple[int, int] | None  # (low, high) for a direct conversation
    member_ids: frozenset[int]


class BoundedDict:
    """A dict that forgets its oldest entries beyond `limit` (enough for a working set)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: dict[Hashable, Any] = {}

    def get(self, key: Hashable) -> Any:
        return self._items.get(key)

    def put(self, key: Hashable, value: Any) -> None:
        self._items.pop(key, None)
        self._items[key] = value
        while len(self._items) > self.limit:
            del self._items[next(iter(self._items))]

    def pop(self, key: Hashable) -> None:
        self._items.pop(key, None)


class LookupCache:
    def __init__(self, *, friendship_ttl: float = 5.0, limit: int = 50_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.friendship_ttl = friendship_ttl
        self._clock = clock
        self._conversations = BoundedDict(limit)
        self._friendships = BoundedDict(limit)  # (low, high) -> expiry on `clock`
        self._users = BoundedDict(limit)
        # Bumped by every friendship invalidation, so a read that raced one is not cached.
        self._friendship_generation = 0

    # --- conversations ---------------------------------------------------------------------

    def conversation(self, conversation_id: int) -> ConversationFacts | None:
        return self._conversations.get(conversation_id)

    def remember_conversation(self, facts: ConversationFacts) -> None:
        self._conversations.put(facts.id, facts)

    def forget_conversation(self, conversation_id: int) -> None:
        self._conversations.pop(conversation_id)

    # --- friendships -----------------------------------------------------------------------

    def friendship_generation(self) -> int:
        """Take before reading a friendship; pass to `remember_friendship`."""
        return self._friendship_generation

    def are_friends(self, pair: tuple[int, int]) -> bool:
        expires_at = self._friendships.get(pair)
        return expires_at is not None and self._clock() < expires_at

    def remember_friendship(self, pair: tuple[int, int], generation: int) -> None:
        if generation == self._friendship_generation:
            self._friendships.put(pair, self._clock() + self.friendship_ttl)

    def forget_friendship(self, a: int, b: int) -> None:
        self._friendship_generation += 1
        self._friendships.pop(ordered_pair(a, b))

    # --- users -----------------------------------------------------------------------------

    def user_payload(self, user_id: int) -> dict[str, Any] | None:
        return self._users.get(user_id)

    def remember_user_payload(self, user_id: int, payload: dict[str, Any]) -> None:
        self._users.put(user_id, payload)

    def forget_user(self, user_id: int) -> None:
        self._users.pop(user_id)

    # --- invalidation by events ------------------------------------------------------------

    def apply_event(self, name: str, payload: Any, recipient_ids: Iterable[int]) -> None:
        """Drop what a published event says has changed (ours or another instance's)."""
        if name == "friend_removed":
            friend_id = _nested_id(payload, "friend")
            if friend_id is None:
                return
            for user_id in recipient_ids:
                self.forget_friendship(user_id, friend_id)
        elif name == "conversation" and isinstance(payload, dict) and isinstance(payload.get("id"), int):
            self.forget_conversation(payload["id"])


def _nested_id(payload: Any, key: str) -> int | None:
    inner = payload.get(key) if isinstance(payload, dict) else None
    value = inner.get("id") if isinstance(inner, dict) else None
    return value if isinstance(value, int) else None


def lookup_cache(session: Session) -> LookupCache:
    return session.info[SESSION_KEY]
