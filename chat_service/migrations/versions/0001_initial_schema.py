"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24 00:14:25.834695
"""
from alembic import op
import sqlalchemy as sa

# Message ids may outgrow 32 bits; SQLite only autoincrements an INTEGER primary key.
MESSAGE_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('users',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_users_username_lower', 'users', [sa.text('lower(username)')], unique=False)
    op.create_table('conversations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=True),
    sa.Column('direct_user_low_id', sa.Integer(), nullable=True),
    sa.Column('direct_user_high_id', sa.Integer(), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_message_id', MESSAGE_ID, nullable=True),
    sa.Column('last_activity_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('direct', 'group')", name='ck_conversations_kind'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['direct_user_high_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['direct_user_low_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('direct_user_low_id', 'direct_user_high_id', name='uq_conversations_direct_pair')
    )
    op.create_index('ix_conversations_last_activity', 'conversations', ['last_activity_at', 'id'], unique=False)

    op.create_table('friend_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('from_user_id', sa.Integer(), nullable=False),
    sa.Column('to_user_id', sa.Integer(), nullable=False),
    sa.Column('user_low_id', sa.Integer(), nullable=False),
    sa.Column('user_high_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['from_user_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['to_user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_low_id', 'user_high_id', name='uq_friend_requests_pair')
    )
    op.create_index('ix_friend_requests_from_user_id', 'friend_requests', ['from_user_id'], unique=False)
    op.create_index('ix_friend_requests_to_user_id', 'friend_requests', ['to_user_id'], unique=False)

    op.create_table('friendships',
    sa.Column('user_low_id', sa.Integer(), nullable=False),
    sa.Column('user_high_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('user_low_id < user_high_id', name='ck_friendships_ordered'),
    sa.ForeignKeyConstraint(['user_high_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['user_low_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('user_low_id', 'user_high_id')
    )
    op.create_index('ix_friendships_user_high_id', 'friendships', ['user_high_id'], unique=False)

    op.create_table('conversation_members',
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('joined_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_read_message_id', MESSAGE_ID, nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('conversation_id', 'user_id')
    )
    op.create_index('ix_conversation_members_user_id', 'conversation_members', ['user_id', 'conversation_id'], unique=False)

    op.create_table('messages',
    sa.Column('id', MESSAGE_ID, autoincrement=True, nullable=False),
    sa.Column('conversation_id', sa.Integer(), nullable=False),
    sa.Column('sender_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ),
    sa.ForeignKeyConstraint(['sender_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('sender_id', 'client_id', name='uq_messages_sender_client_id')
    )
    op.create_index('ix_messages_conversation_id_id', 'messages', ['conversation_id', 'id', 'sender_id'], unique=False)



def downgrade() -> None:
    op.drop_index('ix_messages_conversation_id_id', table_name='messages')

    op.drop_table('messages')
    op.drop_index('ix_conversation_members_user_id', table_name='conversation_members')

    op.drop_table('conversation_members')
    op.drop_index('ix_friendships_user_high_id', table_name='friendships')

    op.drop_table('friendships')
    op.drop_index('ix_friend_requests_to_user_id', table_name='friend_requests')
    op.drop_index('ix_friend_requests_from_user_id', table_name='friend_requests')

    op.drop_table('friend_requests')
    op.drop_index('ix_conversations_last_activity', table_name='conversations')

    op.drop_table('conversations')
    op.drop_index('ix_users_username_lower', table_name='users')
    op.drop_table('users')
