"""The personal log server: the user ↔ group link and the outbox of sealed records.

Nothing here is personal in clear: the group id and title are field-encrypted (`chat_enc`) and
looked up through a keyed hash (`chat_hash`); the outbox holds OpenPGP ciphertext only, for at most
24 hours.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, str_enum, utcnow
from services.retention.policy import MAX_AGE, Retention

GENESIS = "0" * 64


class LogServerState(enum.StrEnum):
    AWAITING_KEY = "awaiting_key"  # the group is bound; the user has not given a key yet
    ACTIVE = "active"
    PAUSED = "paused"  # the user paused logging: new events are not recorded
    DISCONNECTED = "disconnected"  # bot removed / rights revoked: records wait up to 24 h


class LogServer(Base):
    __tablename__ = "log_servers"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    # HMAC of the group's chat id (field encryption's lookup hash).
    chat_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Field-encrypted JSON {"chat_id": …, "title": …}.
    chat_enc: Mapped[str] = mapped_column(Text)
    state: Mapped[LogServerState] = mapped_column(str_enum(LogServerState))
    disconnect_reason: Mapped[str | None] = mapped_column(String(32), default=None)
    key_fingerprint: Mapped[str | None] = mapped_column(String(64), default=None)
    public_key: Mapped[str | None] = mapped_column(Text, default=None)
    thread_chat: Mapped[int | None] = mapped_column(default=None)
    thread_billing: Mapped[int | None] = mapped_column(default=None)
    thread_audit: Mapped[int | None] = mapped_column(default=None)
    thread_system: Mapped[int | None] = mapped_column(default=None)
    panel_message_id: Mapped[int | None] = mapped_column(default=None)
    next_seq: Mapped[int] = mapped_column(default=0)
    last_digest: Mapped[str] = mapped_column(String(64), default=GENESIS)
    last_delivery_at: Mapped[datetime | None] = mapped_column(default=None)
    # Records dropped after 24 h that the user has not been told about yet.
    lost_untold: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OutboxRecord(Base):
    """One sealed record waiting for delivery; deleted once Telegram accepted it."""

    __tablename__ = "log_outbox"
    __table_args__ = (
        UniqueConstraint("user_id", "seq", name="uq_log_outbox_user_id_seq"),
        # Safety net only: the delivery worker drops undelivered rows a little earlier and tells
        # the user how many were lost.
        {"info": {"retention": Retention(expires="created_at", after=MAX_AGE)}},
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    seq: Mapped[int]
    kind: Mapped[str] = mapped_column(String(16))
    thread_id: Mapped[int | None] = mapped_column(default=None)
    armored: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # Set while one worker holds the row (restart-safe claiming across instances).
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    attempts: Mapped[int] = mapped_column(default=0)
