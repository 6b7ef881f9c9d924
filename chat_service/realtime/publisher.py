"""Publishing committed events to user rooms (see db.Database's after_commit hook)."""

from __future__ import annotations

import logging

from flask_socketio import SocketIO

from ..events import Event
from .rooms import user_room

log = logging.getLogger(__name__)


class EventPublisher:
    def __init__(self, socketio: SocketIO) -> None:
        self.socketio = socketio

    def __call__(self, events: list[Event]) -> None:
        for event in events:
            try:
                self.socketio.emit(event.name, event.payload, to=[user_room(uid) for uid in event.user_ids],
                                   namespace="/")
            except Exception:
                # The change is committed; clients catch up from the database (after=<id>).
                log.exception("could not publish event", extra={"event": event.name})
