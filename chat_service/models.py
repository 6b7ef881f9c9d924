"""ORM models. The schema itself is created by the Alembic migrations."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (JSON, BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint, false, func)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.sqltypes import UTCDateTime
from shared.timestamps import utcnow

# Message ids may outgrow 32 bits; SQLite only autoincrements an INTEGER primary key.
MessageId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    pass


class User(Base):
    """A user as chat knows them: learned from token claims or auth's public lookup (same id as auth)."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    username: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Set when auth announces the account deleted (services/deleted_users.py): the row stays for
    # the messages, which then show "Deleted user" as their sender.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The storage key of their avatar (services/avatars.py), if they set one.
    avatar_key: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (Index("ix_users_username_lower", func.lower(username)),)


def ordered_pair(a: int, b: int) -> tuple[int, int]:
    """Two user ids as a friendship, a friend request and a direct conversation store them: smaller first."""
    return (a, b) if a < b else (b, a)


class Friendship(Base):
    """One row per pair of friends, stored with the smaller id first."""

    __tablename__ = "friendships"
    user_low_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    user_high_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        CheckConstraint("user_low_id < user_high_id", name="ck_friendships_ordered"),
        Index("ix_friendships_user_high_id", "user_high_id"),
    )


class FriendRequest(Base):
    """A pending request; accepted or declined requests are deleted.

    The ordered pair is unique, so two users asking each other at the same time
    cannot leave two crossing requests behind.
    """

    __tablename__ = "friend_requests"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    from_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    to_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    user_low_id: Mapped[int] = mapped_column(Integer)
    user_high_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        UniqueConstraint("user_low_id", "user_high_id", name="uq_friend_requests_pair"),
        Index("ix_friend_requests_to_user_id", "to_user_id"),
        Index("ix_friend_requests_from_user_id", "from_user_id"),
    )


class Conversation(Base):
    __tablename__ = "conversations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "direct" or "group"
    title: Mapped[str | None] = mapped_column(String(100))
    # Set only for direct conversations: the ordered pair, unique, so get-or-create is race-safe.
    direct_user_low_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    direct_user_high_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Denormalised so the conversation list needs no per-conversation query.
    last_message_id: Mapped[int | None] = mapped_column(MessageId)
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        UniqueConstraint("direct_user_low_id", "direct_user_high_id", name="uq_conversations_direct_pair"),
        CheckConstraint("kind IN ('direct', 'group')", name="ck_conversations_kind"),
        Index("ix_conversations_last_activity", "last_activity_at", "id"),
    )


class Member(Base):
    __tablename__ = "conversation_members"
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Id of the newest message this member has read; only ever moves forward.
    last_read_message_id: Mapped[int] = mapped_column(MessageId, default=0)
    # In a group: "admin" or "member".
    role: Mapped[str] = mapped_column(String(16), default="member", server_default="member")
    # Set when a member leaves or is removed: the id of the system line saying so, the last
    # message they may read. They keep the history up to it, read-only, and nothing after.
    left_message_id: Mapped[int | None] = mapped_column(MessageId)
    removed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # A muted conversation sends this member no notifications (mentions still do).
    muted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    __table_args__ = (Index("ix_conversation_members_user_id", "user_id", "conversation_id"),)


class Message(Base):
    """Its text is also indexed for search (migration 0004, services/search.py): on PostgreSQL in
    a generated `search_vector` column left unmapped here, on SQLite in the FTS5 table `messages_fts`."""

    __tablename__ = "messages"
    id: Mapped[int] = mapped_column(MessageId, primary_key=True, autoincrement=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    sender_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text)
    client_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A deleted message stays as a tombstone (its text emptied) so ids, paging and replies hold.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    reply_to_id: Mapped[int | None] = mapped_column(MessageId, ForeignKey("messages.id"))
    # "text" (written by a user) or "system" (a change to the group, told in `text` for
    # clients that do not know the kind, and in `data` for those that do).
    kind: Mapped[str] = mapped_column(String(16), default="text", server_default="text")
    data: Mapped[dict | None] = mapped_column(JSON)

    __table_args__ = (
        # Idempotent sends: a sender's client_id names one message, whatever the race.
        UniqueConstraint("sender_id", "client_id", name="uq_messages_sender_client_id"),
        # History pages scan (conversation_id, id); sender_id rides along so unread
        # counts (id > marker AND sender_id <> me) are answered from the index alone.
        Index("ix_messages_conversation_id_id", "conversation_id", "id", "sender_id"),
    )


class Reaction(Base):
    """One user's emoji on one message; the key makes adding it again a no-op."""

    __tablename__ = "message_reactions"
    message_id: Mapped[int] = mapped_column(MessageId, ForeignKey("messages.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    emoji: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Attachment(Base):
    """An uploaded file. Owned by its uploader and in no message until sent with one
    (`message_id`); unattached uploads are removed after a while (services/attachments.py).
    The bytes are in storage under random keys; `name` is the uploader's file name, metadata only."""

    __tablename__ = "attachments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uploader_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    message_id: Mapped[int | None] = mapped_column(MessageId, ForeignKey("messages.id"))
    name: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(127))
    kind: Mapped[str] = mapped_column(String(8))  # "image" or "file"
    storage_key: Mapped[str] = mapped_column(String(64))
    thumbnail_key: Mapped[str | None] = mapped_column(String(64))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (
        CheckConstraint("kind IN ('image', 'file')", name="ck_attachments_kind"),
        Index("ix_attachments_message_id", "message_id"),
        # Finding abandoned uploads: unattached and old.
        Index("ix_attachments_unattached", "message_id", "created_at"),
    )


class Block(Base):
    """`blocker` blocked `blocked`: one row per direction."""

    __tablename__ = "blocks"
    blocker_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    blocked_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (Index("ix_blocks_blocked_id", "blocked_id"),)
