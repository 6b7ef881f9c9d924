"""per-member mute of a conversation

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 09:55:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('conversation_members') as batch:
        batch.add_column(sa.Column('muted', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('conversation_members') as batch:
        batch.drop_column('muted')
