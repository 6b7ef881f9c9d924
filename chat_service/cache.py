"""What every message asks but that rarely changes, kept per process.

A send needs the conversation's kind and members, whether a direct pair are still
friends, and the sender's user payload. Reading them from the database on every
event cost a third of a message's CPU, so this process keeps them:

- conversations (kind, direct pair, current member ids): members change only when a
  conversation is created or a group's members change -- these publish a
  `conversation` or `conversation_updated` event, which drops the entry on every
  instance; an instance whose queue subscription broke drops them all (it may have
  missed one), so a removed member cannot post or receive through a stale entry;
- friendships, positive answers only: ending one publishes `friend_removed`, which
  drops the friendship entries on every instance. The Redis queue is at-most-once, so entries
  also expire after `friendship_ttl` seconds: a removed friend whose invalidation
  was lost can post for at most that long;
- user payloads: written only by `users.remember_user`, which drops the entry when
  a username changes (a sender always passes it on this instance first); a new or
  removed avatar publishes `user_updated`, which drops it on every instance.

Invalidation runs when this process commits the change (`db.Database`) and when any
instance's event arrives through the Socket.IO manager (`realtime/managers.py`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from cachetools import LRUCache, TTLCache
from sqlalchemy.orm import Session

SESSION_KEY = "lookup_cache"
# Events saying a conversation's members changed (its id is the payload's `id`).
MEMBERSHIP_EVENTS = ("conversation", "conversation_updated")
# Events that drop cached entries: every instance must see them, whoever they are for.
INVALIDATING_EVENTS = frozenset({"friend_removed", "user_updated", *MEMBERSHIP_EVENTS})


@dataclass(frozen=True)
class ConversationFacts:
    id: int
    kind: str
    direct_pair: tuple[int, int] | None  # (low, high) for a direct conversation
    member_ids: frozenset[int]


class LookupCache:
    def __init__(self, *, friendship_ttl: float = 5.0, limit: int = 50_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        # Bounded, least recently used first out: enough for the working set. cachetools'
        # caches are not thread-safe; one lock covers all three (threading mode in tests).
        self._lock = threading.Lock()
        self._conversations: LRUCache[int, ConversationFacts] = LRUCache(limit)
        self._friendships: TTLCache[tuple[int, int], bool] = TTLCache(limit, ttl=friendship_ttl, timer=clock)
        self._users: LRUCache[int, dict[str, Any]] = LRUCache(limit)
        # Bumped by every friendship invalidation, so a read that raced one is not cached.
        self._friendship_generation = 0

    # --- conversations ---------------------------------------------------------------------

    def conversation(self, conversation_id: int) -> ConversationFacts | None:
        with self._lock:
            return self._conversations.get(conversation_id)

    def remember_conversation(self, facts: ConversationFacts) -> None:
        with self._lock:
            self._conversations[facts.id] = facts

    def forget_conversation(self, conversation_id: int) -> None:
        with self._lock:
            self._conversations.pop(conversation_id, None)

    def forget_conversations(self) -> None:
        with self._lock:
            self._conversations.clear()

    # --- friendships -----------------------------------------------------------------------

    def friendship_generation(self) -> int:
        """Take before reading a friendship; pass to `remember_friendship`."""
        return self._friendship_generation

    def are_friends(self, pair: tuple[int, int]) -> bool:
        with self._lock:
            return pair in self._friendships

    def remember_friendship(self, pair: tuple[int, int], generation: int) -> None:
        with self._lock:
            if generation == self._friendship_generation:
                self._friendships[pair] = True

    def forget_friendships(self) -> None:
        # All of them: an event names one side of the pair only (its payload's friend), and
        # friendships end rarely; each cached pair costs one primary-key read to learn again.
        with self._lock:
            self._friendship_generation += 1
            self._friendships.clear()

    # --- users -----------------------------------------------------------------------------

    def user_payload(self, user_id: int) -> dict[str, Any] | None:
        with self._lock:
            return self._users.get(user_id)

    def remember_user_payload(self, user_id: int, payload: dict[str, Any]) -> None:
        with self._lock:
            self._users[user_id] = payload

    def forget_user(self, user_id: int) -> None:
        with self._lock:
            self._users.pop(user_id, None)

    # --- invalidation by events ------------------------------------------------------------

    def apply_event(self, name: str, payload: Any) -> None:
        """Drop what a published event says has changed (ours or another instance's)."""
        if name == "friend_removed":
            self.forget_friendships()
            friend = payload.get("friend") if isinstance(payload, dict) else None
            if isinstance(friend, dict) and friend.get("deleted") and isinstance(friend.get("id"), int):
                self.forget_user(friend["id"])  # an account deleted: its name goes
        elif name == "user_updated":
            user = payload.get("user") if isinstance(payload, dict) else None
            if isinstance(user, dict) and isinstance(user.get("id"), int):
                self.forget_user(user["id"])
        elif name in MEMBERSHIP_EVENTS and isinstance(payload, dict) and isinstance(payload.get("id"), int):
            self.forget_conversation(payload["id"])


def lookup_cache(session: Session) -> LookupCache:
    return session.info[SESSION_KEY]
