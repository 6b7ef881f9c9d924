"""Publishing committed events to user rooms (see db.Database's after_commit hook)."""

from __future__ import annotations

import logging

from flask_socketio import SocketIO

from ..events import Event
from .ordering import MessageOrder
from .rooms import user_room

log = logging.getLogger(__name__)


class EventPublisher:
    def __init__(self, socketio: SocketIO, order: MessageOrder) -> None:
        self.socketio = socketio
        self.order = order

    def __call__(self, events: list[Event]) -> None:
        for event in events:
            is_message = event.name == "message"
            if is_message:
                self.order.wait_for_previous(event.payload)
            try:
                self.socketio.emit(event.name, event.payload, to=[user_room(uid) for uid in event.user_ids],
                                   namespace="/")
            except Exception:
                # The change is committed; clients catch up from the database (after=<id>).
                log.exception("could not publish event", extra={"event": event.name})
            finally:
                if is_message:
                    # Published, or never to be: the next message of the conversation goes on.
                    self.order.published(event.payload)
