"""attachments: uploaded files, then sent with a message

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-28 09:10:00.000000
"""
from alembic import op
import sqlalchemy as sa

MESSAGE_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('attachments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uploader_id', sa.Integer(), nullable=False),
    sa.Column('message_id', MESSAGE_ID, nullable=True),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('content_type', sa.String(length=127), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('storage_key', sa.String(length=64), nullable=False),
    sa.Column('thumbnail_key', sa.String(length=64), nullable=True),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('image', 'file')", name='ck_attachments_kind'),
    sa.ForeignKeyConstraint(['uploader_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_attachments_message_id', 'attachments', ['message_id'], unique=False)
    op.create_index('ix_attachments_unattached', 'attachments', ['message_id', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_attachments_unattached', table_name='attachments')
    op.drop_index('ix_attachments_message_id', table_name='attachments')
    op.drop_table('attachments')
