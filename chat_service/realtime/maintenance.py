"""A background task per instance: presence heartbeat (and reaping of dead
instances), disconnecting sockets whose access token has expired, removing
uploads that were never sent with a message, and applying deleted accounts."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from flask import Flask
from flask_socketio import SocketIO
from redis import RedisError

from ..state import EXTENSION
from ..services import attachments as attachment_actions
from ..services import presence as presence_actions
from .connections import ConnectionRegistry

log = logging.getLogger(__name__)
# Seconds between two sweeps for abandoned uploads, per instance.
UPLOAD_SWEEP_INTERVAL = 600


@dataclass
class Maintenance:
    app: Flask
    socketio: SocketIO
    connections: ConnectionRegistry
    interval: float  # seconds between rounds
    _started: bool = field(default=False, init=False)
    _stopped: bool = field(default=False, init=False)
    _next_upload_sweep: float = field(default=0.0, init=False)

    def ensure_started(self) -> None:
        if not self._started:
            self._started = True
            self.socketio.start_background_task(self._loop)

    def stop(self) -> None:
        self._stopped = True

    def _loop(self) -> None:
        while not self._stopped:
            self.socketio.sleep(self.interval)
            if self._stopped:
                break
            try:
                self.run_once()
            except Exception:
                log.exception("maintenance pass failed")

    def run_once(self) -> None:
        for sid in self.connections.expired_sids():
            self.socketio.server.disconnect(sid, namespace="/")
        rt = self.app.extensions[EXTENSION]
        self._sweep_abandoned_uploads(rt)
        if rt.deleted_accounts is not None:
            # Deletions announced while this instance was down or unsubscribed.
            try:
                rt.deleted_accounts.apply_pending()
            except Exception:
                log.exception("applying deleted accounts failed")
        try:
            went_offline = rt.presence.heartbeat()
        except RedisError:
            log.warning("presence heartbeat failed")
            return
        if went_offline:
            with self.app.app_context(), rt.database.sessionmaker() as session:
                for user_id in went_offline:
                    presence_actions.announce(session, user_id, False)

    def _sweep_abandoned_uploads(self, rt) -> None:
        """Every UPLOAD_SWEEP_INTERVAL: uploads older than ATTACHMENT_ABANDONED_AFTER that
        are in no message go, with their files. Each instance sweeps; a row goes once."""
        now = time.monotonic()
        if now < self._next_upload_sweep:
            return
        self._next_upload_sweep = now + UPLOAD_SWEEP_INTERVAL
        try:
            with self.app.app_context(), rt.database.sessionmaker() as session:
                attachment_actions.remove_abandoned(session, rt.config.attachment_abandoned_after)
        except Exception:
            log.exception("removing abandoned uploads failed")

    def disconnect_soon(self, sid: str) -> None:
        """Disconnect after the current handler's acknowledgement has gone out."""
        def _later() -> None:
            self.socketio.sleep(0.2)
            self.socketio.server.disconnect(sid, namespace="/")
        self.socketio.start_background_task(_later)
