"""group roles and departures, system lines, blocks

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 09:10:00
"""
from alembic import op
import sqlalchemy as sa

MESSAGE_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN (constant defaults) works on SQLite too, without copying the tables.
    op.add_column('conversation_members',
                  sa.Column('role', sa.String(length=16), nullable=False, server_default='member'))
    op.add_column('conversation_members', sa.Column('left_message_id', MESSAGE_ID, nullable=True))
    op.add_column('conversation_members',
                  sa.Column('removed', sa.Boolean(), nullable=False, server_default=sa.false()))
    # Every existing group's creator is its first admin.
    op.execute(
        "UPDATE conversation_members SET role = 'admin' WHERE EXISTS ("
        " SELECT 1 FROM conversations c WHERE c.id = conversation_members.conversation_id"
        " AND c.kind = 'group' AND c.created_by_id = conversation_members.user_id)"
    )
    op.add_column('messages', sa.Column('kind', sa.String(length=16), nullable=False, server_default='text'))
    op.add_column('messages', sa.Column('data', sa.JSON(), nullable=True))
    op.create_table('blocks',
    sa.Column('blocker_id', sa.Integer(), nullable=False),
    sa.Column('blocked_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['blocker_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['blocked_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('blocker_id', 'blocked_id')
    )
    op.create_index('ix_blocks_blocked_id', 'blocks', ['blocked_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_blocks_blocked_id', table_name='blocks')
    op.drop_table('blocks')
    # Not batch mode: on SQLite that copies the table, losing the search index's triggers (0004).
    op.drop_column('messages', 'data')
    op.drop_column('messages', 'kind')
    with op.batch_alter_table('conversation_members') as batch:
        batch.drop_column('removed')
        batch.drop_column('left_message_id')
        batch.drop_column('role')
