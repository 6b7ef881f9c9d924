"""Announcing, in the background, deleted accounts that Redis (or chat) was down for.

A deletion is announced as it happens (services/account_deletion.py); if Redis (without Redis:
a chat instance) is unreachable then, its row stays unannounced and this thread, one per server
process, tries every DELETION_ANNOUNCE_INTERVAL seconds until chat has been told. Started by the WSGI entry point only,
so test apps and command-line tools run no thread.
"""

from __future__ import annotations

import logging
import threading

from flask import Flask

from . import db
from .services.account_deletion import announce_deletions
from .state import EXTENSION, app_state

log = logging.getLogger(__name__)


def start_announcing(app: Flask) -> threading.Event | None:
    """Start the thread; setting the event returned stops it."""
    state = app.extensions[EXTENSION]
    if state.deletions is None:
        return None  # no Redis and no CHAT_SERVICE_URL: nobody to announce to
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(state.config.deletion_announce_interval):
            try:
                with app.app_context():
                    announce_deletions(db.session(), app_state().deletions)
            except Exception:
                log.exception("announcing deleted accounts failed")

    threading.Thread(target=loop, name="deletion-announcer", daemon=True).start()
    return stop
