"""Limits on password guessing and on account creation.

Every attempt is counted before its password is checked (an atomic increment
that answers the new count), so concurrent guesses cannot slip past a limit
between a check and a later increment. A successful login gives its count back.

Logins are limited three ways, chosen so that guessing stays expensive while
nobody can lock the owner of an account out:

* per account and client address, tightly (5 per 15 minutes): one address gets
  a few guesses at one account, and refusing it refuses nobody else;
* per client address (50 per 15 minutes): one address spraying many accounts;
* per account from everywhere, loosely and with backoff (after 20 failures in
  15 minutes): a guess from an address that has not logged in to this account
  before must wait 1, 2, 4 ... up to 300 s after the previous one, so a
  distributed attack gets a few guesses an hour. Addresses the owner has logged
  in from (in the last 30 days) are not slowed down by what others do: a
  stranger's failures can delay the owner only on an address never used before,
  and then by at most the backoff, never for the whole window.

Registrations are counted per client address (10 per hour).

Fixed windows: the first attempt opens a window of `window` seconds; counts end
with it. Counters live in Redis when configured, so every worker and instance
shares them; otherwise in this process.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from dataclasses import dataclass
from typing import Protocol

import redis

from shared.errors import RateLimited, Unavailable

KNOWN_ADDRESS_TTL = 30 * 24 * 3600


class CounterStore(Protocol):
    def hit(self, keys: list[str], window: int) -> list[tuple[int, float]]:
        """Count one more in each key, atomically; (new count, seconds left in its window) per key."""

    def refund(self, keys: list[str]) -> None:
        """Give back one count per key (an attempt that turned out not to be a failure)."""

    def delete(self, key: str) -> None: ...

    def claim(self, key: str, seconds: float) -> float:
        """Take `key` for `seconds` if it is free: 0.0; else the seconds until it frees up."""

    def exists(self, key: str) -> bool: ...


class MemoryCounterStore:
    def __init__(self) -> None:
        self._entries: dict[str, tuple[int, float]] = {}  # key -> (count, expiry on the monotonic clock)
        self._lock = threading.Lock()

    def _live(self, key: str, now: float) -> tuple[int, float]:
        count, ends = self._entries.get(key, (0, 0.0))
        if ends <= now:
            self._entries.pop(key, None)
            return 0, 0.0
        return count, ends

    def _forget_expired(self, now: float) -> None:
        # Bound memory under a spray of usernames or addresses.
        if len(self._entries) > 10_000:
            for key in [k for k, (_, ends) in self._entries.items() if ends <= now]:
                del self._entries[key]

    def hit(self, keys: list[str], window: int) -> list[tuple[int, float]]:
        now = time.monotonic()
        result = []
        with self._lock:
            for key in keys:
                count, ends = self._live(key, now)
                ends = ends if count else now + window
                self._entries[key] = (count + 1, ends)
                result.append((count + 1, ends - now))
            self._forget_expired(now)
        return result

    def refund(self, keys: list[str]) -> None:
        now = time.monotonic()
        with self._lock:
            for key in keys:
                count, ends = self._live(key, now)
                if count:
                    self._entries[key] = (count - 1, ends)

    def delete(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def claim(self, key: str, seconds: float) -> float:
        now = time.monotonic()
        with self._lock:
            count, ends = self._live(key, now)
            if count:
                return ends - now
            self._entries[key] = (1, now + seconds)
            self._forget_expired(now)
            return 0.0

    def exists(self, key: str) -> bool:
        with self._lock:
            return bool(self._live(key, time.monotonic())[0])


class RedisCounterStore:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def _run(self, commands) -> list:
        try:
            # MULTI/EXEC: one round trip, applied atomically (a cluster client's pipeline is
            # not a transaction unless asked; its keys must then share a slot).
            pipe = self.client.pipeline(transaction=True)
            commands(pipe)
            return pipe.execute()
        except redis.RedisError as exc:
            raise Unavailable("The rate limiter is unavailable.") from exc

    def hit(self, keys: list[str], window: int) -> list[tuple[int, float]]:
        def commands(pipe):
            for key in keys:
                pipe.set(key, 0, ex=window, nx=True)  # opens the window on the first attempt only
                pipe.incr(key)
                pipe.pttl(key)

        values = self._run(commands)
        return [(int(count), max(pttl, 0) / 1000) for count, pttl in zip(values[1::3], values[2::3])]

    def refund(self, keys: list[str]) -> None:
        def commands(pipe):
            for key in keys:
                pipe.decr(key)

        self._run(commands)

    def delete(self, key: str) -> None:
        self._run(lambda pipe: pipe.delete(key))

    def claim(self, key: str, seconds: float) -> float:
        def commands(pipe):
            pipe.set(key, 1, px=max(1, int(seconds * 1000)), nx=True)
            pipe.pttl(key)

        taken, pttl = self._run(commands)
        return 0.0 if taken else max(pttl, 1) / 1000

    def exists(self, key: str) -> bool:
        return bool(self._run(lambda pipe: pipe.exists(key))[0])


def _digest(*parts: str) -> str:
    # Hashed: attempted usernames are arbitrary text (sometimes a mistyped password).
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class LoginLimits:
    per_account_and_address: int = 5
    per_address: int = 50
    per_account: int = 20
    window: int = 900
    backoff_max: int = 300


@dataclass(frozen=True)
class LoginAttempt:
    """An attempt that was counted and allowed; report how it ended with `succeeded`."""

    username: str
    address: str
    keys: tuple[str, ...]  # pair, address, account


class LoginRateLimiter:
    def __init__(self, store: CounterStore, limits: LoginLimits, *, prefix: str = "auth") -> None:
        self.store = store
        self.limits = limits
        self.prefix = prefix

    def _key(self, kind: str, *parts: str) -> str:
        # One hash tag for every login key: an attempt counts its three in one transaction,
        # which a Redis Cluster accepts only within one slot.
        return f"{{{self.prefix}:login}}:{kind}:{_digest(*parts)}"

    def begin(self, username: str, address: str) -> LoginAttempt:
        """Count an attempt before its password is checked; 429 when it may not be checked."""
        account = username.lower()
        keys = (self._key("pair", account, address), self._key("address", address), self._key("account", account))
        limits = self.limits
        (pair, pair_left), (by_address, address_left), (by_account, _) = self.store.hit(list(keys), limits.window)
        waits = [left for count, limit, left in ((pair, limits.per_account_and_address, pair_left),
                                                 (by_address, limits.per_address, address_left)) if count > limit]
        if waits:
            # Refused before the account-wide count: one address hammering cannot slow the account down.
            self.store.refund([keys[2]])
        elif by_account > limits.per_account and not self.store.exists(self._key("known", account, address)):
            backoff = min(2 ** min(by_account - limits.per_account - 1, 30), limits.backoff_max)
            wait = self.store.claim(self._key("backoff", account), backoff)
            if wait:
                waits.append(wait)
        if waits:
            raise RateLimited(math.ceil(max(waits)))
        return LoginAttempt(username=account, address=address, keys=keys)

    def succeeded(self, attempt: LoginAttempt) -> None:
        """The password was right: its attempt was no failure, and this address is now known."""
        pair, *others = attempt.keys
        self.store.delete(pair)
        self.store.refund(others)
        # Marks the address for 30 days from its first success (claim does not extend it).
        self.store.claim(self._key("known", attempt.username, attempt.address), KNOWN_ADDRESS_TTL)


class RegistrationRateLimiter:
    def __init__(self, store: CounterStore, *, limit: int, window: int, prefix: str = "auth") -> None:
        self.store = store
        self.limit = limit
        self.window = window
        self.prefix = prefix

    def check(self, address: str) -> None:
        """Count a registration from `address`; 429 over the limit."""
        ((count, left),) = self.store.hit([f"{self.prefix}:register:{_digest(address)}"], self.window)
        if count > self.limit:
            raise RateLimited(math.ceil(left), "Too many accounts created from this address; try again later.")
