"""full-text search over messages

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 09:05:00

PostgreSQL: a generated tsvector column with a GIN index. The database keeps it in step
with every INSERT and every UPDATE of `text` (edits, deletes that blank the text) without
any application code. The 'simple' configuration lowercases and splits words but neither
stems nor drops stop words: chats mix languages, and a search for "the who" or for a
word in another language must find it verbatim. Adding the column rewrites the table under
an exclusive lock, and the index is built in one go: on a large database, upgrade at a quiet time.

SQLite: an FTS5 index over messages.text (external content, so the text is stored once),
kept in step by triggers on INSERT, DELETE and UPDATE OF text.
"""
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

SQLITE_UPGRADE = [
    # unicode61 splits on anything that is not a letter or digit and folds case and diacritics.
    "CREATE VIRTUAL TABLE messages_fts USING fts5(text, content='messages', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2')",
    "INSERT INTO messages_fts(rowid, text) SELECT id, text FROM messages",
    """CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts(rowid, text) VALUES (new.id, new.text);
    END""",
    """CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
    END""",
    """CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN
        INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
        INSERT INTO messages_fts(rowid, text) VALUES (new.id, new.text);
    END""",
]
SQLITE_DOWNGRADE = [
    "DROP TRIGGER messages_fts_update",
    "DROP TRIGGER messages_fts_delete",
    "DROP TRIGGER messages_fts_insert",
    "DROP TABLE messages_fts",
]

POSTGRESQL_UPGRADE = [
    "ALTER TABLE messages ADD COLUMN search_vector tsvector "
    "GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, text)) STORED",
    "CREATE INDEX ix_messages_search_vector ON messages USING gin (search_vector)",
]
POSTGRESQL_DOWNGRADE = [
    "DROP INDEX ix_messages_search_vector",
    "ALTER TABLE messages DROP COLUMN search_vector",
]


def _statements(upgrade: bool) -> list[str]:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        return POSTGRESQL_UPGRADE if upgrade else POSTGRESQL_DOWNGRADE
    if dialect == "sqlite":
        return SQLITE_UPGRADE if upgrade else SQLITE_DOWNGRADE
    raise NotImplementedError(f"message search has no index for {dialect}")


def upgrade() -> None:
    for statement in _statements(upgrade=True):
        op.execute(statement)


def downgrade() -> None:
    for statement in _statements(upgrade=False):
        op.execute(statement)
