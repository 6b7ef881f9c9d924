"""This instance's open sockets: whose they are and when their token expires."""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(frozen=True)
class Connection:
    user_id: int
    expires_at: float  # when its access token stops being accepted: `exp` plus the verifiers' leeway
    session_id: str | None = None  # the token's `sid`: the login it belongs to

    def expired(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) >= self.expires_at


class ConnectionRegistry:
    def __init__(self) -> None:
        self._by_sid: dict[str, Connection] = {}
        self.closed = 0  # connections removed since start (the collector reads it: collector.py)

    def add(self, sid: str, connection: Connection) -> None:
        self._by_sid[sid] = connection

    def get(self, sid: str) -> Connection | None:
        return self._by_sid.get(sid)

    def remove(self, sid: str) -> Connection | None:
        connection = self._by_sid.pop(sid, None)
        if connection is not None:
            self.closed += 1
        return connection

    def sids_of_session(self, session_id: str | None) -> list[str]:
        if session_id is None:
            return []
        return [sid for sid, conn in list(self._by_sid.items()) if conn.session_id == session_id]

    def expired_sids(self, now: float | None = None) -> list[str]:
        now = time.time() if now is None else now
        return [sid for sid, conn in list(self._by_sid.items()) if conn.expired(now)]

    def __len__(self) -> int:
        return len(self._by_sid)
