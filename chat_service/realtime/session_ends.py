"""Ending a session's sockets the moment it ends (logout, refresh-token reuse, log out
everywhere): auth announces each ended session on a Redis channel (shared.sessions);
every instance tells that session's sockets here `session_ended` (their page goes to
the login page) and disconnects them. The same subscription hears of deleted accounts
(`deleted_accounts.py`). Without Redis auth tells the instance directly (api/internal.py),
which ends the sockets the same way (`end_session_sockets`)."""

from __future__ import annotations

import logging

from flask_socketio import SocketIO
from redis.backoff import NoBackoff
from redis.retry import Retry

from shared.redis_client import connect, follow_failover
from shared.sessions import SessionRevocations

from .connections import ConnectionRegistry
from .deleted_accounts import DeletedAccounts

log = logging.getLogger(__name__)

SESSION_ENDED_EVENT = "session_ended"


def end_session_sockets(socketio: SocketIO, connections: ConnectionRegistry, disconnect_soon,
                        session_id: str | None) -> None:
    """Tell this instance's sockets of the session it has ended, then disconnect them."""
    for sid in connections.sids_of_session(session_id):
        socketio.server.emit(SESSION_ENDED_EVENT, {"message": "This session has ended."}, to=sid,
                             namespace="/", ignore_queue=True)
        disconnect_soon(sid)


class SessionEnds:
    RESUBSCRIBE_INTERVAL = 0.5  # seconds between attempts while Redis is unreachable

    def __init__(self, redis_url: str, socketio: SocketIO, connections: ConnectionRegistry,
                 sessions: SessionRevocations, disconnect_soon,
                 deleted_accounts: DeletedAccounts | None = None) -> None:
        # Its own client: a subscription waits on its socket indefinitely (no read timeout).
        self.redis = connect(redis_url, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))
        self.socketio = socketio
        self.connections = connections
        self.sessions = sessions
        self.disconnect_soon = disconnect_soon
        self.deleted_accounts = deleted_accounts
        self._started = False

    def ensure_started(self) -> None:
        if not self._started:
            self._started = True
            self.socketio.start_background_task(self._listen)

    def _listen(self) -> None:
        broken = False
        while True:
            try:
                if broken:
                    follow_failover(self.redis)
                pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self.sessions.channel)
                deleted = self.deleted_accounts
                if deleted is not None:
                    pubsub.subscribe(deleted.deletions.channel)
                for message in pubsub.listen():
                    if message.get("type") != "message":
                        continue
                    if deleted is not None and message.get("channel") in (
                            deleted.deletions.channel, deleted.deletions.channel.encode()):
                        deleted.apply(deleted.deletions.deleted_user_id(message["data"]))
                    else:
                        self.end(self.sessions.ended_session_id(message["data"]))
            except Exception as error:
                # Missed announcements are covered by the check at each connect and request,
                # and missed deletions by the maintenance pass.
                log.warning("session announcements unavailable: %s", error.__class__.__name__)
                broken = True
                self.socketio.sleep(self.RESUBSCRIBE_INTERVAL)

    def end(self, session_id: str | None) -> None:
        end_session_sockets(self.socketio, self.connections, self.disconnect_soon, session_id)
