"""Deleted accounts, announced to the services that keep data about users.

auth owns accounts; chat keeps friendships and messages about them and must hear of each
deletion even when none of its instances was running at that moment. So auth records the
user id in a Redis set (the to-do list) and announces it on a channel (the prompt). Every
chat instance applies what it hears at once, and on each (re)subscription applies whatever
is still in the set, then removes it. Applying is idempotent, so an instance that races
another, or hears of a deletion twice, changes nothing more.
"""

from __future__ import annotations

import json
from typing import Any


class AccountDeletions:
    def __init__(self, redis_client: Any, prefix: str) -> None:
        self.redis = redis_client
        self.prefix = prefix

    @property
    def channel(self) -> str:
        return f"{self.prefix}:accounts-deleted"

    @property
    def _pending_key(self) -> str:
        return f"{self.prefix}:accounts-deleted:pending"

    def announce(self, user_id: int) -> None:
        """Record and announce the deletion (raises RedisError)."""
        # Two commands, not a pipeline: a Redis Cluster client refuses PUBLISH in one.
        self.redis.sadd(self._pending_key, user_id)
        self.redis.publish(self.channel, json.dumps({"user_id": user_id}))

    def pending(self) -> list[int]:
        """Deleted accounts not yet applied everywhere (raises RedisError)."""
        return sorted(int(member) for member in self.redis.smembers(self._pending_key))

    def applied(self, user_id: int) -> None:
        self.redis.srem(self._pending_key, user_id)

    def deleted_user_id(self, notice: bytes | str) -> int | None:
        """The user id a message on `channel` announces as deleted (None if malformed)."""
        try:
            user_id = json.loads(notice).get("user_id")
        except (ValueError, AttributeError):
            return None
        return user_id if isinstance(user_id, int) and not isinstance(user_id, bool) else None
