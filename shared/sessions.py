"""Ended sessions: access tokens that must be refused before they expire.

An access token names its session (`sid`: the refresh-token family of one login).
When a session ends (logout, refresh-token reuse; "log out everywhere" ends each of the
user's sessions) auth records it in Redis. Each record lives as long as an access token
can (ACCESS_TOKEN_TTL and the leeway), after which the tokens it refuses have expired
anyway. Every service checks the records for each request (one EXISTS); chat_service
also checks at socket connect, hears of each ending on a channel and disconnects that
session's sockets at once.

While Redis cannot be reached the check lets tokens through (fail open) and says so
in the log: refusing every token would log everyone out during a Redis outage. The
ended session still cannot be refreshed (its refresh tokens are revoked in auth's
database), so it ends at the latest when its access token expires.

Without Redis (the quick start: one chat instance) auth tells each chat instance directly
(shared.notices) and the instance keeps the record in its own memory (`LocalSessionEnds`);
auth itself reads its database (a session has ended when its refresh tokens are revoked).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any, Callable

from . import jwt

log = logging.getLogger(__name__)

SESSION_CLAIM = "sid"


class SessionRevocations:
    def __init__(self, redis_client: Any, prefix: str, ttl: int = 900) -> None:
        # ttl: ACCESS_TOKEN_TTL; only auth, which writes the records, needs it. A record is
        # kept that long plus the verifiers' leeway, past which its tokens are refused anyway.
        self.redis = redis_client
        self.prefix = prefix
        self.ttl = max(1, int(ttl)) + int(jwt.DEFAULT_LEEWAY_SECONDS)

    @property
    def channel(self) -> str:
        return f"{self.prefix}:sessions-ended"

    def _session_key(self, session_id: str) -> str:
        return f"{self.prefix}:session-ended:{session_id}"

    def end_session(self, session_id: str) -> None:
        """Refuse every access token of one session from now on (raises RedisError)."""
        # Recorded before it is announced: whoever hears of it finds the record. Two commands,
        # not a pipeline: a Redis Cluster client refuses PUBLISH in one.
        self.redis.set(self._session_key(session_id), 1, ex=self.ttl)
        self.redis.publish(self.channel, json.dumps({"sid": session_id}))

    def end_sessions(self, session_ids: list[str]) -> None:
        """`end_session` for each, every one tried; then raises the first RedisError, if any."""
        from redis import RedisError

        failed: RedisError | None = None
        for session_id in session_ids:
            try:
                self.end_session(session_id)
            except RedisError as error:
                failed = failed or error
        if failed is not None:
            raise failed

    def ended(self, claims: dict[str, Any]) -> bool:
        """Whether the access token with these claims belongs to a session that has ended."""
        from redis import RedisError

        session_id = claims.get(SESSION_CLAIM)
        if not isinstance(session_id, str):
            return False  # issued before sessions had ids: it expires on its own
        try:
            return self.redis.exists(self._session_key(session_id)) > 0
        except RedisError:
            log.warning("session revocations unreadable; letting the token through until it expires")
            return False

    def ended_session_id(self, notice: bytes | str) -> str | None:
        """The session id a message on `channel` announces as ended (None if malformed)."""
        try:
            session_id = json.loads(notice).get("sid")
        except (ValueError, AttributeError):
            return None
        return session_id if isinstance(session_id, str) else None


class LocalSessionEnds:
    """Ended sessions kept in this process: what a chat instance without Redis was told by auth.

    Each record is kept as long as auth says the session's access tokens can still be accepted
    (`keep_for`), so the table holds only the sessions ended within one token lifetime.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._until: dict[str, float] = {}
        self._clock = clock
        self._lock = threading.Lock()

    def end(self, session_id: str, keep_for: float) -> None:
        now = self._clock()
        with self._lock:
            for stale in [sid for sid, until in self._until.items() if until <= now]:
                del self._until[stale]
            self._until[session_id] = max(self._until.get(session_id, 0.0), now + keep_for)

    def ended(self, claims: dict[str, Any]) -> bool:
        session_id = claims.get(SESSION_CLAIM)
        if not isinstance(session_id, str):
            return False
        until = self._until.get(session_id)
        return until is not None and until > self._clock()
