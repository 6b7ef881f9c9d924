"""refresh_tokens.parent_id: which token each one was rotated from

The reuse grace covers only the honest race (a token presented again before its own
successor was used); telling that apart needs each token's parent.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("refresh_tokens") as batch:
        batch.add_column(sa.Column("parent_id", sa.Integer(), nullable=True))
    op.create_index("ix_refresh_tokens_parent_id", "refresh_tokens", ["parent_id"])
    # Tokens issued before have no recorded parent: presenting their parent again within the
    # grace is judged as before, for at most the grace's few seconds after this upgrade.


def downgrade() -> None:
    op.drop_index("ix_refresh_tokens_parent_id", table_name="refresh_tokens")
    with op.batch_alter_table("refresh_tokens") as batch:
        batch.drop_column("parent_id")
