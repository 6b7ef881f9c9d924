"""The per-application objects every layer needs, kept on `app.extensions`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import current_app

if TYPE_CHECKING:
    from flask_socketio import SocketIO

    from shared.sessions import LocalSessionEnds, SessionRevocations

    from .auth_directory import AuthDirectory
    from .config import Config
    from .db import Database
    from .realtime.connections import ConnectionRegistry
    from .realtime.deleted_accounts import DeletedAccounts
    from .realtime.maintenance import Maintenance
    from .realtime.session_ends import SessionEnds
    from .services.presence import Presence
    from .storage import DirectoryStorage

EXTENSION = "chat_service"


@dataclass
class AppState:
    config: "Config"
    socketio: "SocketIO"
    database: "Database"
    directory: "AuthDirectory"
    presence: "Presence"
    connections: "ConnectionRegistry"
    maintenance: "Maintenance"
    storage: "DirectoryStorage"
    # Without Redis (one instance) auth tells this instance directly and it keeps the record
    # itself (LocalSessionEnds, api/internal.py); None only in tests that build the state by hand.
    sessions: "SessionRevocations | LocalSessionEnds | None" = None
    session_ends: "SessionEnds | None" = None  # the Redis subscription
    deleted_accounts: "DeletedAccounts | None" = None  # the Redis to-do list; without it: api/internal.py

    def shutdown(self) -> None:
        self.maintenance.stop()
        self.presence.shutdown()
        self.database.dispose()


def app_state() -> AppState:
    return current_app.extensions[EXTENSION]
