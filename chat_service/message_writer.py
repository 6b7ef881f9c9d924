"""Messages sent at the same moment are stored together: one statement and one commit for
all of them (a group commit), on PostgreSQL.

A message is acknowledged only once it is committed. Stored one statement each, every
message cost PostgreSQL about 400 µs of CPU (parsing, planning and committing the
statement; 280 µs prepared) and the chat worker a pool checkout, a round trip and a
return, on a machine where the database and the worker share the cores
(docs/benchmarks.md). Here every sender hands its row to the process's writers and
waits; a free writer stores whatever has gathered in one statement, so under load a
statement carries many messages, and alone a message goes at once, as before.

The guarantees stay those of the one-message statement (`services/messages.py`):
- the conversation rows are locked, in id order (two instances' statements never wait
  for each other in a cycle), before `nextval` gives their messages ids, and the
  statement commits before the locks are released, so the messages of a conversation
  commit in id order; within a statement they take ids in the order they arrived;
- (sender_id, client_id) already stored means nothing changes for that message;
- each message learns its id and the id of the conversation's message before it.
A message that cannot be stored (a bad value) must not fail the others: when a
statement of several fails for anything but the database being unreachable, each of
its messages is stored on its own, and only the bad one fails.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy.engine import Engine

from shared.database import database_unavailable

log = logging.getLogger(__name__)

Stored = tuple[int, "int | None"]  # (message id, the conversation's previous message id)

# Rows gathered into one statement at most; whoever arrives later goes in the next one.
MAX_BATCH = 200
# Statements in flight at once. More than one, so that a statement waiting for a lock (a
# conversation row held by another instance's statement or a slower transaction) does not
# hold up every other conversation's messages; few, so that messages gather under load.
WRITERS = 2

# One message: see services/messages.py. Also used for a message without a client_id,
# which the statement for many cannot match with its row.
STORE_ONE = """
WITH locked AS (
    SELECT id, last_message_id FROM conversations WHERE id = %(conversation_id)s FOR UPDATE
), stored AS (
    INSERT INTO messages (conversation_id, sender_id, text, client_id, created_at, reply_to_id)
    SELECT id, %(sender_id)s, %(text)s, %(client_id)s, %(created_at)s, %(reply_to_id)s FROM locked
    ON CONFLICT (sender_id, client_id) DO NOTHING
    RETURNING id
), touched AS (
    UPDATE conversations SET last_message_id = stored.id, last_activity_at = %(created_at)s
    FROM stored WHERE conversations.id = %(conversation_id)s
), marked AS (
    -- My own message is read by me: keeps my marker current.
    UPDATE conversation_members SET last_read_message_id = stored.id
    FROM stored WHERE conversation_id = %(conversation_id)s AND user_id = %(sender_id)s
        AND last_read_message_id < stored.id
)
SELECT stored.id, locked.last_message_id FROM stored, locked
"""

# Many messages, given as one array per column in arrival order. Rows come back matched
# by (sender_id, client_id), which the unique key makes one message.
STORE_MANY = """
WITH batch AS (
    SELECT * FROM unnest(%(conversation_ids)s::bigint[], %(sender_ids)s::bigint[], %(texts)s::text[],
                         %(client_ids)s::text[], %(created_ats)s::timestamptz[], %(reply_to_ids)s::bigint[])
        WITH ORDINALITY AS batch(conversation_id, sender_id, text, client_id, created_at, reply_to_id, position)
), locked AS (
    SELECT id, last_message_id FROM conversations
    WHERE id IN (SELECT conversation_id FROM batch) ORDER BY id FOR UPDATE
), stored AS (
    INSERT INTO messages (conversation_id, sender_id, text, client_id, created_at, reply_to_id)
    SELECT batch.conversation_id, batch.sender_id, batch.text, batch.client_id, batch.created_at,
           batch.reply_to_id
    FROM batch JOIN locked ON locked.id = batch.conversation_id ORDER BY batch.position
    ON CONFLICT (sender_id, client_id) DO NOTHING
    RETURNING id, conversation_id, sender_id, client_id, created_at
), touched AS (
    UPDATE conversations SET last_message_id = latest.id, last_activity_at = latest.created_at
    FROM (SELECT DISTINCT ON (conversation_id) conversation_id, id, created_at
          FROM stored ORDER BY conversation_id, id DESC) AS latest
    WHERE conversations.id = latest.conversation_id
), marked AS (
    -- My own messages are read by me: keeps my marker current.
    UPDATE conversation_members SET last_read_message_id = mine.id
    FROM (SELECT conversation_id, sender_id, max(id) AS id FROM stored
          GROUP BY conversation_id, sender_id) AS mine
    WHERE conversation_members.conversation_id = mine.conversation_id
        AND conversation_members.user_id = mine.sender_id AND conversation_members.last_read_message_id < mine.id
)
SELECT stored.sender_id, stored.client_id, stored.id,
       coalesce(lag(stored.id) OVER (PARTITION BY stored.conversation_id ORDER BY stored.id),
                locked.last_message_id)
FROM stored JOIN locked ON locked.id = stored.conversation_id
"""


class _Waiting:
    """One message handed to the writer, and what became of it."""

    __slots__ = ("row", "done", "stored", "error")

    def __init__(self, row: dict[str, Any]) -> None:
        self.row = row
        self.done = threading.Event()
        self.stored: Stored | None = None
        self.error: BaseException | None = None

    def finish(self, stored: Stored | None = None, error: BaseException | None = None) -> None:
        self.stored, self.error = stored, error
        self.done.set()


class MessageWriter:
    """Stores messages for the whole process through `engine` (autocommit connections)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._waiting: list[_Waiting] = []
        self._arrived = threading.Condition()
        self._writers: list[threading.Thread] = []
        # What it has done (on /healthz): statements that stored messages, and messages stored.
        self.statements = 0
        self.messages = 0

    def store(self, row: dict[str, Any]) -> Stored | None:
        """Store one message (the columns of `STORE_ONE`) and return once it is committed:
        its id and the conversation's previous message id, or None when nothing was stored
        (its (sender_id, client_id) names a stored message, or the conversation is gone).
        Raises what storing it raised."""
        waiting = _Waiting(row)
        with self._arrived:
            self._waiting.append(waiting)
            if not self._writers:
                # Started on first use, in the process (and under the gevent hub) that uses them.
                self._writers = [threading.Thread(target=self._write_forever, name=f"message-writer-{n}", daemon=True)
                                 for n in range(WRITERS)]
                for writer in self._writers:
                    writer.start()
            self._arrived.notify()
        waiting.done.wait()
        if waiting.error is not None:
            raise waiting.error
        return waiting.stored

    def _write_forever(self) -> None:
        while True:
            with self._arrived:
                while not self._waiting:
                    self._arrived.wait()
                batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
            try:
                self._write(batch)
            except BaseException as error:  # never leave a sender waiting
                for waiting in batch:
                    if not waiting.done.is_set():
                        waiting.finish(error=error)
                if not isinstance(error, Exception):
                    raise

    def _write(self, batch: list[_Waiting]) -> None:
        keyed = [waiting for waiting in batch if waiting.row["client_id"] is not None]
        alone = [waiting for waiting in batch if waiting.row["client_id"] is None]
        if len(keyed) == 1:
            alone = keyed + alone
            keyed = []
        if keyed:
            try:
                self._write_many(keyed)
            except Exception as error:
                if database_unavailable(error):
                    for waiting in keyed:
                        waiting.finish(error=error)
                else:
                    log.warning("storing %d messages together failed (%s); storing each alone",
                                len(keyed), error.__class__.__name__)
                    alone = keyed + alone
        for waiting in alone:
            try:
                waiting.finish(stored=self._write_one(waiting.row))
            except Exception as error:
                waiting.finish(error=error)

    def _count(self, stored: int) -> None:
        self.statements += 1
        self.messages += stored

    def to_dict(self) -> dict[str, int]:
        return {"statements": self.statements, "messages": self.messages}

    def _write_one(self, row: dict[str, Any]) -> Stored | None:
        with self.engine.connect() as connection:
            stored = connection.exec_driver_sql(STORE_ONE, row).first()
        self._count(0 if stored is None else 1)
        return None if stored is None else (stored[0], stored[1])

    def _write_many(self, batch: list[_Waiting]) -> None:
        rows = [waiting.row for waiting in batch]
        columns = {
            "conversation_ids": [row["conversation_id"] for row in rows],
            "sender_ids": [row["sender_id"] for row in rows],
            "texts": [row["text"] for row in rows],
            "client_ids": [row["client_id"] for row in rows],
            "created_ats": [row["created_at"] for row in rows],
            "reply_to_ids": [row["reply_to_id"] for row in rows],
        }
        with self.engine.connect() as connection:
            results = {(sender_id, client_id): (message_id, previous_id)
                       for sender_id, client_id, message_id, previous_id
                       in connection.exec_driver_sql(STORE_MANY, columns).all()}
        self._count(len(results))
        for waiting in batch:
            # A repeated (sender_id, client_id) in one batch: the first one stored it.
            waiting.finish(stored=results.pop((waiting.row["sender_id"], waiting.row["client_id"]), None))

