"""users.deletion_announced_at: a deletion that could not be announced to chat is announced later

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("deletion_announced_at", sa.DateTime(), nullable=True))
    unannounced = sa.text("deleted_at IS NOT NULL AND deletion_announced_at IS NULL")
    op.create_index("ix_users_unannounced_deletions", "users", ["id"], sqlite_where=unannounced,
                    postgresql_where=unannounced)
    # Earlier deletions stay unannounced here, so they are announced (again) once: applying one
    # twice changes nothing in chat, and one lost in an outage is applied at last.


def downgrade() -> None:
    op.drop_index("ix_users_unannounced_deletions", table_name="users")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("deletion_announced_at")
