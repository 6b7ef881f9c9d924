"""users.avatar_key: a user's avatar, kept in the attachments' storage

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28 12:30:00.000000
"""
from alembic import op
import sqlalchemy as sa

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('avatar_key', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.drop_column('avatar_key')
