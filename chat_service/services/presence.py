"""Who is online: connection counts per user, across every chat instance.

With Redis (several instances) each instance keeps a heartbeat key that expires
after `ttl` seconds and, per user, a hash of instance -> open connections. Only
instances whose heartbeat is alive count, so a crashed instance leaves nobody
online for longer than about `ttl`; a surviving instance then reaps its entries
and announces those users offline. Without Redis the counts live in this process.

Transitions (first connection opened / last one closed) are decided atomically
(a Lua script in Redis, a lock in process), so each is announced exactly once.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections import defaultdict
from typing import Iterable, Protocol

import redis
from sqlalchemy.orm import Session

from shared.database import transaction
from shared.redis_client import connect

from ..events import queue_event
from .friends import friend_ids

log = logging.getLogger(__name__)


@transaction
def announce(session: Session, user_id: int, online: bool) -> None:
    """Tell the user's friends (on every instance) that they came online or went offline."""
    queue_event(session, "presence", {"user_id": user_id, "online": online}, friend_ids(session, user_id))


class Presence(Protocol):
    def connected(self, user_id: int) -> bool:
        """Count a new connection; True when it is the user's first anywhere."""

    def disconnected(self, user_id: int) -> bool:
        """Count a closed connection; True when it was the user's last anywhere."""

    def online(self, user_ids: Iterable[int]) -> set[int]:
        """Which of these users have a connection open now."""

    def heartbeat(self) -> list[int]:
        """Keep this instance alive; return users who went offline because another instance died."""

    def ping(self) -> None:
        """Raise when the presence store is unreachable."""

    def shutdown(self) -> None:
        """Stop counting this instance's connections."""


class LocalPresence:
    def __init__(self) -> None:
        self._counts: dict[int, int] = defaultdict(int)
        self._lock = threading.Lock()

    def connected(self, user_id: int) -> bool:
        with self._lock:
            self._counts[user_id] += 1
            return self._counts[user_id] == 1

    def disconnected(self, user_id: int) -> bool:
        with self._lock:
            if self._counts.get(user_id, 0) <= 0:
                return False
            self._counts[user_id] -= 1
            if self._counts[user_id] == 0:
                del self._counts[user_id]
                return True
            return False

    def online(self, user_ids: Iterable[int]) -> set[int]:
        with self._lock:
            return {uid for uid in user_ids if self._counts.get(uid, 0) > 0}

    def heartbeat(self) -> list[int]:
        return []

    def ping(self) -> None:
        return None

    def shutdown(self) -> None:
        with self._lock:
            self._counts.clear()


# KEYS[1] user hash; ARGV: instance id, delta, heartbeat key prefix.
# Returns {connections before, connections after} counting live instances only;
# entries of dead instances are dropped on the way.
_CHANGE_COUNT = """
local before = 0
local entries = redis.call('HGETALL', KEYS[1])
for i = 1, #entries, 2 do
  local instance, count = entries[i], tonumber(entries[i + 1])
  if instance == ARGV[1] or redis.call('EXISTS', ARGV[3] .. instance) == 1 then
    before = before + count
  else
    redis.call('HDEL', KEYS[1], instance)
  end
end
local mine = redis.call('HINCRBY', KEYS[1], ARGV[1], tonumber(ARGV[2]))
local after = before + tonumber(ARGV[2])
if mine <= 0 then
  redis.call('HDEL', KEYS[1], ARGV[1])
  after = after - mine
end
return {before, after}
"""


class RedisPresence:
    def __init__(self, url: str, instance_id: str, ttl: int, prefix: str = "chat:presence") -> None:
        self.redis = connect(url, socket_timeout=5, socket_connect_timeout=5, health_check_interval=30)
        # Each process counts under its own incarnation of the instance id: a crashed
        # process restarted under the same INSTANCE_ID (a container's restart policy)
        # must not bring the connections that died with it back to life by beating again.
        self.instance_id = f"{instance_id}:{secrets.token_hex(4)}"
        self.ttl = ttl
        # Every presence key carries the prefix as its hash tag: the counting script reads
        # heartbeat keys it cannot declare, which a Redis Cluster allows only within one slot.
        self.prefix = f"{{{prefix}}}"
        self._change = self.redis.register_script(_CHANGE_COUNT)
        self._beating = False

    def _user_key(self, user_id: int) -> str:
        return f"{self.prefix}:user:{user_id}"

    def _heartbeat_key(self, instance_id: str) -> str:
        return f"{self.prefix}:heartbeat:{instance_id}"

    def _instance_users_key(self, instance_id: str) -> str:
        return f"{self.prefix}:instance-users:{instance_id}"

    @property
    def _instances_key(self) -> str:
        return f"{self.prefix}:instances"

    def _beat(self) -> None:
        pipe = self.redis.pipeline()
        pipe.set(self._heartbeat_key(self.instance_id), "1", ex=self.ttl)
        pipe.sadd(self._instances_key, self.instance_id)
        pipe.execute()
        self._beating = True

    def _change_count(self, user_id: int, delta: int) -> tuple[int, int]:
        if not self._beating:
            self._beat()
        before, after = self._change(keys=[self._user_key(user_id)],
                                     args=[self.instance_id, delta, f"{self.prefix}:heartbeat:"])
        return int(before), int(after)

    def connected(self, user_id: int) -> bool:
        self.redis.sadd(self._instance_users_key(self.instance_id), user_id)
        before, after = self._change_count(user_id, 1)
        return before <= 0 < after

    def disconnected(self, user_id: int) -> bool:
        before, after = self._change_count(user_id, -1)
        return before > 0 >= after

    def online(self, user_ids: Iterable[int]) -> set[int]:
        user_ids = list(dict.fromkeys(user_ids))
        if not user_ids:
            return set()
        pipe = self.redis.pipeline(transaction=False)
        for uid in user_ids:
            pipe.hgetall(self._user_key(uid))
        entries = pipe.execute()
        instances = sorted({i for e in entries for i in e})
        alive = set()
        if instances:
            flags = self.redis.mget([self._heartbeat_key(i.decode()) for i in instances])
            alive = {i for i, flag in zip(instances, flags) if flag is not None}
        return {uid for uid, e in zip(user_ids, entries)
                if sum(int(count) for instance, count in e.items() if instance in alive) > 0}

    def heartbeat(self) -> list[int]:
        self._beat()
        went_offline: list[int] = []
        for raw in self.redis.smembers(self._instances_key):
            instance = raw.decode()
            if instance == self.instance_id or self.redis.exists(self._heartbeat_key(instance)):
                continue
            # One survivor reaps each dead instance.
            if not self.redis.set(f"{self.prefix}:reaping:{instance}", self.instance_id, nx=True, ex=60):
                continue
            went_offline.extend(self._reap(instance))
        return went_offline

    def _reap(self, instance: str) -> list[int]:
        offline = []
        users_key = self._instance_users_key(instance)
        for raw in self.redis.smembers(users_key):
            user_id = int(raw)
            had = self.redis.hget(self._user_key(user_id), instance)
            if had is None or int(had) <= 0:
                continue
            # A zero change drops the dead entry and tells whether anything live remains.
            before, _ = self._change_count(user_id, 0)
            if before <= 0:
                offline.append(user_id)
        self.redis.delete(users_key)
        self.redis.srem(self._instances_key, instance)
        log.info("reaped presence of a dead instance", extra={"instance": instance, "offline": len(offline)})
        return offline

    def ping(self) -> None:
        self.redis.ping()

    def shutdown(self) -> None:
        # Other instances see the heartbeat gone, reap our entries and announce those users offline.
        try:
            self.redis.delete(self._heartbeat_key(self.instance_id))
        except redis.RedisError:
            log.warning("could not clear presence heartbeat on shutdown")
        self._beating = False
