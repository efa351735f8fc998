"""Admin panel: audit events, broadcasts and daily aggregates.

Audit events and broadcast delivery state are kept for at most 24 hours (`expires_at`, indexed,
purged by `services/admin/retention.py`). Daily aggregates are counts only, no user ids.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, str_enum, utcnow


class AuditResult(enum.StrEnum):
    OK = "ok"
    DENIED = "denied"
    FAILED = "failed"


class AuditEvent(Base):
    """One admin action (or refused attempt): who, what, target, when, result."""

    __tablename__ = "admin_audit_events"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    actor_id: Mapped[int]
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str | None] = mapped_column(String(64), default=None)
    result: Mapped[AuditResult] = mapped_column(str_enum(AuditResult))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    # Set once the signed, encrypted record reached the operators' log group.
    posted_at: Mapped[datetime | None] = mapped_column(default=None, index=True)


class AuditChain(Base):
    """The operators' log group's Context-Lock chain head (one row, id 1)."""

    __tablename__ = "admin_audit_chain"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int]
    digest: Mapped[str] = mapped_column(String(64))


class BroadcastStatus(enum.StrEnum):
    RUNNING = "running"
    DONE = "done"
    EXPIRED = "expired"


class AudienceKind(enum.StrEnum):
    ALL = "all"
    LOCALE = "locale"
    ACTIVE = "active"


class Broadcast(Base):
    __tablename__ = "admin_broadcasts"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    admin_id: Mapped[int]
    # Where the progress message lives (the admin's private chat).
    progress_chat_id: Mapped[int]
    progress_message_id: Mapped[int | None] = mapped_column(default=None)
    progress_locale: Mapped[str] = mapped_column(String(8))
    # Telegram HTML composed by the operator (not personal data).
    text: Mapped[str] = mapped_column(Text)
    audience: Mapped[AudienceKind] = mapped_column(str_enum(AudienceKind))
    audience_value: Mapped[str | None] = mapped_column(String(16), default=None)
    status: Mapped[BroadcastStatus] = mapped_column(
        str_enum(BroadcastStatus), default=BroadcastStatus.RUNNING, index=True
    )
    total: Mapped[int] = mapped_column(default=0)
    # Which worker delivers it, until when (several instances never deliver one broadcast twice).
    lease_owner: Mapped[str | None] = mapped_column(String(32), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class RecipientState(enum.StrEnum):
    PENDING = "pending"
    # Claimed (committed) before the send: after a crash it is never sent again.
    SENDING = "sending"
    SENT = "sent"
    BLOCKED = "blocked"
    FAILED = "failed"


class BroadcastRecipient(Base):
    __tablename__ = "admin_broadcast_recipients"
    __table_args__ = (Index("ix_admin_broadcast_recipients_state", "broadcast_id", "state"),)

    broadcast_id: Mapped[int] = mapped_column(
        ForeignKey("admin_broadcasts.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    state: Mapped[RecipientState] = mapped_column(
        str_enum(RecipientState), default=RecipientState.PENDING
    )


class DailyStat(Base):
    """Aggregate counts per UTC day, for the stats chart (no user ids)."""

    __tablename__ = "admin_daily_stats"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    active_users: Mapped[int] = mapped_column(default=0)
