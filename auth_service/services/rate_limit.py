"""Limits on failed logins, per username and per client address.

Fixed windows: the first failure opens a window of `window` seconds; once a
counter reaches its limit, attempts are refused (before any password check)
until the window ends. Counters live in Redis when configured, so every worker
and instance shares them; otherwise in this process.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from typing import Protocol

import redis

from shared.errors import RateLimited, Unavailable


class CounterStore(Protocol):
    def read(self, keys: list[str]) -> list[tuple[int, float]]:
        """(count, seconds left in the window) per key; (0, 0) when absent."""

    def increment(self, keys: list[str], window: int) -> None: ...

    def delete(self, key: str) -> None: ...


class MemoryCounterStore:
    def __init__(self) -> None:
        self._counters: dict[str, tuple[int, float]] = {}  # key -> (count, window end on the monotonic clock)
        self._lock = threading.Lock()

    def _live(self, key: str, now: float) -> tuple[int, float]:
        count, ends = self._counters.get(key, (0, 0.0))
        if ends <= now:
            self._counters.pop(key, None)
            return 0, 0.0
        return count, ends

    def read(self, keys: list[str]) -> list[tuple[int, float]]:
        now = time.monotonic()
        with self._lock:
            return [(count, ends - now if count else 0.0) for count, ends in (self._live(k, now) for k in keys)]

    def increment(self, keys: list[str], window: int) -> None:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                count, ends = self._live(key, now)
                self._counters[key] = (count + 1, ends if count else now + window)
            if len(self._counters) > 10_000:
                # Bound memory under a spray of usernames: forget closed windows.
                for key in [k for k, (_, ends) in self._counters.items() if ends <= now]:
                    del self._counters[key]

    def delete(self, key: str) -> None:
        with self._lock:
            self._counters.pop(key, None)


class RedisCounterStore:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def read(self, keys: list[str]) -> list[tuple[int, float]]:
        try:
            pipe = self.client.pipeline()
            for key in keys:
                pipe.get(key)
                pipe.pttl(key)
            values = pipe.execute()
        except redis.RedisError as exc:
            raise Unavailable("The rate limiter is unavailable.") from exc
        result = []
        for raw, pttl in zip(values[::2], values[1::2]):
            count = int(raw) if raw is not None else 0
            result.append((count, max(pttl, 0) / 1000 if count else 0.0))
        return result

    def increment(self, keys: list[str], window: int) -> None:
        try:
            pipe = self.client.pipeline()  # MULTI/EXEC: one round trip, applied atomically
            for key in keys:
                pipe.set(key, 0, ex=window, nx=True)  # opens the window on the first failure only
                pipe.incr(key)
            pipe.execute()
        except redis.RedisError as exc:
            raise Unavailable("The rate limiter is unavailable.") from exc

    def delete(self, key: str) -> None:
        try:
            self.client.delete(key)
        except redis.RedisError as exc:
            raise Unavailable("The rate limiter is unavailable.") from exc


class LoginRateLimiter:
    def __init__(self, store: CounterStore, *, limit_user: int, limit_ip: int, window: int,
                 prefix: str = "auth") -> None:
        self.store = store
        self.limit_user = limit_user
        self.limit_ip = limit_ip
        self.window = window
        self.prefix = prefix

    def _user_key(self, username: str) -> str:
        # Hashed: attempted usernames are arbitrary text (sometimes a mistyped password).
        return f"{self.prefix}:login-fail:user:{hashlib.sha256(username.lower().encode()).hexdigest()[:32]}"

    def _address_key(self, address: str) -> str:
        return f"{self.prefix}:login-fail:ip:{address}"

    def check(self, username: str, address: str) -> None:
        """Raise 429 when either counter is at its limit."""
        (user_count, user_left), (ip_count, ip_left) = self.store.read(
            [self._user_key(username), self._address_key(address)])
        waits = []
        if user_count >= self.limit_user:
            waits.append(user_left)
        if ip_count >= self.limit_ip:
            waits.append(ip_left)
        if waits:
            raise RateLimited(math.ceil(max(waits)))

    def record_failure(self, username: str, address: str) -> None:
        self.store.increment([self._user_key(username), self._address_key(address)], self.window)

    def clear_user(self, username: str) -> None:
        self.store.delete(self._user_key(username))
