"""message edits, deletions, replies and reactions

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 09:50:00.000000
"""
from alembic import op
import sqlalchemy as sa

MESSAGE_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('messages', sa.Column('edited_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('messages', sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('messages', sa.Column('reply_to_id', MESSAGE_ID, nullable=True))
    # SQLite adds a foreign key only by copying the whole table; there the send action's
    # check (the original is in the same conversation) is the only guard. Messages are
    # never removed (deleting leaves a tombstone), so the reference cannot dangle.
    if op.get_bind().dialect.name != 'sqlite':
        op.create_foreign_key('fk_messages_reply_to_id', 'messages', 'messages', ['reply_to_id'], ['id'])
    op.create_table('message_reactions',
    sa.Column('message_id', MESSAGE_ID, nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('emoji', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('message_id', 'user_id', 'emoji')
    )


def downgrade() -> None:
    op.drop_table('message_reactions')
    if op.get_bind().dialect.name != 'sqlite':
        op.drop_constraint('fk_messages_reply_to_id', 'messages', type_='foreignkey')
    with op.batch_alter_table('messages') as batch:
        batch.drop_column('reply_to_id')
        batch.drop_column('deleted_at')
        batch.drop_column('edited_at')
