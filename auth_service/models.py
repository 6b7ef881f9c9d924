"""ORM models: users and refresh tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.sqltypes import UTCDateTime
from shared.timestamps import utcnow


class Base(DeclarativeBase):
    pass


UNANNOUNCED = text("deleted_at IS NOT NULL AND deletion_announced_at IS NULL")


class User(Base):
    __tablename__ = "users"
    # The lower-cased copies carry the unique constraints, so the database itself
    # enforces case-insensitive uniqueness on SQLite and PostgreSQL alike.
    __table_args__ = (
        UniqueConstraint("username_normalized", name="uq_users_username_normalized"),
        UniqueConstraint("email_normalized", name="uq_users_email_normalized"),
        # The few deletions still to announce, found without reading every user.
        Index("ix_users_unannounced_deletions", "id", sqlite_where=UNANNOUNCED, postgresql_where=UNANNOUNCED),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(32))
    username_normalized: Mapped[str] = mapped_column(String(32))
    email: Mapped[str] = mapped_column(String(254))
    email_normalized: Mapped[str] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=False), default=utcnow)
    # A deleted account keeps its row, without email or password, so nobody can register its
    # username again and pass for the person its friends knew.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(timezone=False), nullable=True)
    # When chat was told of the deletion; unset while Redis was unreachable, so it is told later
    # (services/account_deletion.py).
    deletion_announced_at: Mapped[datetime | None] = mapped_column(UTCDateTime(timezone=False), nullable=True)


class RefreshToken(Base):
    __tablename__ = "refresh_tokens"
    __table_args__ = (
        UniqueConstraint("token_hash", name="uq_refresh_tokens_token_hash"),
        Index("ix_refresh_tokens_user_id", "user_id"),
        Index("ix_refresh_tokens_family_id", "family_id"),
        Index("ix_refresh_tokens_parent_id", "parent_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE", name="fk_refresh_tokens_user_id"))
    family_id: Mapped[str] = mapped_column(String(32))
    # The token this one was rotated from (None for a login's first): the reuse grace asks
    # whether a presented token's successor was used yet (services/tokens.py). No foreign
    # key: tokens go only with their whole family, when their user goes.
    parent_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=False), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(timezone=False))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(timezone=False), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(timezone=False), nullable=True)
