"""Live `message` events of a conversation leave in id order, whichever instance sent them.

Messages of one conversation commit in id order (the conversation's row is locked by each
store, see message_writer.STORE_ONE), but each is published by the greenlet that stored it,
after its commit. Two instances -- or two greenlets of one group commit -- could then publish
N+1 before N, and every subscriber would hear them in that order. So a `message` event waits,
before it is published, until the conversation's message before it (its `previous_id`) has
been published: by this process (remembered here), or by any instance (a per-conversation mark
in Redis, raised in the same round trip as the publish: `mark_commands`).

The wait is bounded: a previous message older than `SETTLE_SECONDS` whose publish never
happened (its instance died between commit and publish, or Redis lost it) holds nobody up,
and nothing waits while Redis cannot be asked. Clients catch up on such gaps with `after=`.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable

from cachetools import LRUCache

log = logging.getLogger(__name__)

# Raises a conversation's mark, never lowers it: a message published after a bounded wait may
# come after its successor's publish.
RAISE_MARK = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
end
return 1
"""

CreatedAt = Callable[[int], "datetime | None"]


class MessageOrder:
    # A previous message stored longer ago than this is taken as published (or never to be).
    SETTLE_SECONDS = 2.0
    # How often a waiting publish asks Redis again about another instance's publish.
    POLL_SECONDS = 0.005
    MARK_TTL_SECONDS = 24 * 3600  # a quiet conversation's mark goes; SETTLE_SECONDS covers it then
    REDIS_PAUSE_SECONDS = 1.0  # after Redis failed to answer, nobody waits on it for this long

    def __init__(self, redis: Any = None, prefix: str = "chat", created_at: CreatedAt | None = None,
                 remembered: int = 100_000) -> None:
        self.redis = redis
        self.prefix = prefix
        self.created_at = created_at
        self._published: LRUCache[int, int] = LRUCache(remembered)  # conversation -> highest id published
        self._changed = threading.Condition()
        self._redis_paused_until = 0.0
        self.waits = 0  # publishes that had to wait (shown on /healthz)
        self.gave_up = 0  # waits that ended unsatisfied (the previous message's publish never came)

    def mark_key(self, conversation_id: int) -> str:
        return f"{self.prefix}:published:{conversation_id}"

    # --- what has been published -------------------------------------------------------------

    def published(self, payload: Any) -> None:
        """A `message` event's payload, published (or delivered here from another instance)."""
        ids = _ids(payload)
        if ids is None:
            return
        conversation_id, message_id = ids
        with self._changed:
            if self._published.get(conversation_id, 0) < message_id:
                self._published[conversation_id] = message_id
                self._changed.notify_all()

    def mark_commands(self, message: dict) -> list[tuple]:
        """Redis commands to send after a queue message's publish, in the same round trip:
        raise its conversation's mark if it carries a `message` event."""
        if message.get("event") != "message":
            return []
        ids = _ids(message.get("data"))
        if ids is None:
            return []
        conversation_id, message_id = ids
        return [("EVAL", RAISE_MARK, 1, self.mark_key(conversation_id), message_id, self.MARK_TTL_SECONDS)]

    # --- waiting for the previous one --------------------------------------------------------

    def wait_for_previous(self, payload: Any) -> None:
        """Return once the message before this `message` payload's has been published, or
        can no longer be waited for."""
        ids = _ids(payload)
        previous_id = payload.get("previous_id") if ids is not None else None
        if not isinstance(previous_id, int) or self._seen(ids[0]) >= previous_id:
            return
        conversation_id = ids[0]
        started = time.monotonic()
        deadline = started + self.SETTLE_SECONDS
        age_checked = False
        self.waits += 1
        while True:
            mark = self._mark(conversation_id)
            if mark is None or mark >= previous_id:
                return
            if not age_checked:
                age_checked = True
                if self._settled_by_age(previous_id):
                    return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.gave_up += 1
                log.warning("published message %s before %s, whose publish did not come in %.1f s",
                            ids[1], previous_id, self.SETTLE_SECONDS)
                return
            with self._changed:
                if self._seen(conversation_id) >= previous_id:
                    return
                self._changed.wait(min(remaining, self.POLL_SECONDS) if self.redis is not None else remaining)
            if self._seen(conversation_id) >= previous_id:
                return

    def _seen(self, conversation_id: int) -> int:
        return self._published.get(conversation_id, 0)

    def _mark(self, conversation_id: int) -> int | None:
        """The conversation's mark in Redis (0 without one or without Redis), or None when
        Redis cannot answer: with Redis down no other instance's publish can be seen, and
        their events are lost for now anyway (`resync`)."""
        if self.redis is None:
            return 0
        if time.monotonic() < self._redis_paused_until:
            return None
        try:
            value = self.redis.get(self.mark_key(conversation_id))
        except Exception as error:
            self._redis_paused_until = time.monotonic() + self.REDIS_PAUSE_SECONDS
            log.warning("could not read the publish mark: %s", error.__class__.__name__)
            return None
        return int(value) if value else 0

    def _settled_by_age(self, message_id: int) -> bool:
        """True unless the message was stored within SETTLE_SECONDS (so its publish may still come)."""
        if self.created_at is None:
            return True
        try:
            created = self.created_at(message_id)
        except Exception as error:
            log.warning("could not read when message %s was stored: %s", message_id, error.__class__.__name__)
            return True
        if created is None:
            return True
        if created.tzinfo is None:
            created = created.replace(tzinfo=timezone.utc)
        return (datetime.now(timezone.utc) - created).total_seconds() > self.SETTLE_SECONDS

    def to_dict(self) -> dict[str, int]:
        return {"waits": self.waits, "gave_up": self.gave_up}


def _ids(payload: Any) -> tuple[int, int] | None:
    if not isinstance(payload, dict):
        return None
    conversation_id, message_id = payload.get("conversation_id"), payload.get("id")
    if isinstance(conversation_id, int) and isinstance(message_id, int):
        return conversation_id, message_id
    return None
