"""Applying accounts deleted in auth on this instance (shared.account_deletions).

Each announcement is applied as it arrives (`SessionEnds` listens on both channels); the
maintenance pass applies whatever is still pending, which covers an instance that was down
or unsubscribed when it was announced, and a database that failed meanwhile. The deleted
user's sockets are already gone: auth ended every session of theirs first.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import Flask
from redis import RedisError

from shared.account_deletions import AccountDeletions

from ..db import Database
from ..services.deleted_users import forget_deleted_user

log = logging.getLogger(__name__)


@dataclass
class DeletedAccounts:
    app: Flask
    database: Database
    deletions: AccountDeletions

    def apply(self, user_id: int | None) -> None:
        if user_id is None:
            return
        with self.app.app_context(), self.database.sessionmaker() as session:
            forget_deleted_user(session, user_id)
        log.info("deleted account applied", extra={"user_id": user_id})
        try:
            self.deletions.applied(user_id)
        except RedisError:
            pass  # still pending: applied again later, which changes nothing

    def apply_pending(self) -> None:
        try:
            pending = self.deletions.pending()
        except RedisError:
            log.warning("pending account deletions unreadable")
            return
        for user_id in pending:
            self.apply(user_id)
