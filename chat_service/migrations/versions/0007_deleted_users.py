"""users.deleted_at: accounts deleted in auth; their messages stay, shown as "Deleted user"

Revision ID: 0007
Revises: 0005
Create Date: 2026-11-28 10:10:00.000000
"""
from alembic import op
import sqlalchemy as sa

revision = '0007'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.drop_column('deleted_at')
