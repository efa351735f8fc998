"""Concierge: personas run by staff, the staff desk (a forum supergroup), sessions and relays.

Personas and templates are the service's own content, not personal data of users. A session
(who talks to which persona, the name the user gave it, the topic it lives in) and its relayed
messages are personal and temporary: they expire at most 24 hours after the last activity or the
close, and the relayed contents are field-encrypted.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, str_enum, utcnow
from bot.db.encrypted import Rehash, encrypted, lookup_hash
from bot.db.retention import Retention


class ConciergePersona(Base):
    """A persona staff answer as: what users see in /personas."""

    __tablename__ = "concierge_personas"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64))
    bio: Mapped[str] = mapped_column(Text)
    attributes: Mapped[str] = mapped_column(Text, default="")
    avatar_file_id: Mapped[str | None] = mapped_column(String(256), default=None)
    """Telegram file id of the avatar photo (sent again by id, never downloaded)."""
    price: Mapped[int]
    """Credits per user message."""
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ConciergeDesk(Base):
    """The one staff desk: a forum supergroup linked by an operator (a single row, id 1)."""

    __tablename__ = "concierge_desk"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    chat_key: Mapped[str] = mapped_column(
        String(64),
        unique=True,
        info=lookup_hash("concierge-desk-chat", rehash=Rehash.FROM_SOURCE, source="chat_enc"),
    )
    chat_enc: Mapped[str] = mapped_column(
        Text, info=encrypted("concierge-desk-chat-id", bind=("id",))
    )
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)


class SessionState(enum.StrEnum):
    OPEN = "open"  # nobody claimed it
    CLAIMED = "claimed"  # a staff member took it
    CLOSED = "closed"


class ConciergeSession(Base):
    """A user's conversation with one persona, answered in one topic of the desk."""

    __tablename__ = "concierge_sessions"
    # /forget finds a user's sessions by `user_id`, not by `claimed_by` (the staff member's).
    __table_args__ = (
        {"info": {"retention": Retention(expires="expires_at", user_column="user_id")}},
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    persona_id: Mapped[int] = mapped_column(
        ForeignKey("concierge_personas.id", ondelete="CASCADE"), index=True
    )
    state: Mapped[SessionState] = mapped_column(str_enum(SessionState), default=SessionState.OPEN)
    thread_id: Mapped[int | None] = mapped_column(default=None, index=True)
    """The session's topic in the desk."""
    shown: Mapped[str] = mapped_column(String(16), default="")
    """The state the topic's name shows now (renamed only when it changes)."""
    claimed_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None, index=True
    )
    name_enc: Mapped[str | None] = mapped_column(
        Text, default=None, info=encrypted("concierge-name", bind=("id",))
    )
    """The name the user gave the persona ({name} in templates), field-encrypted."""
    waiting_since: Mapped[datetime | None] = mapped_column(default=None)
    """When the oldest user message no staff reply followed arrived (None: answered)."""
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    """24 h after the last message or the close: the purge removes the session and its relays."""


class RelayDirection(enum.StrEnum):
    USER = "user"  # the user's message, copied into the topic
    STAFF = "staff"  # a staff reply (message, template or draft), sent to the user
    DRAFT = "draft"  # an AI draft shown to staff, not yet sent


class RelayState(enum.StrEnum):
    ACCEPTED = "accepted"  # charged, not yet delivered
    DELIVERED = "delivered"
    FAILED = "failed"  # could not be delivered (a user message's charge went back)


class ConciergeRelay(Base):
    """One relayed message: what delivery, the AI drafts and the transcript need, for 24 h."""

    __tablename__ = "concierge_relays"
    # A redelivered update finds its message here and is neither charged nor relayed twice.
    __table_args__ = (
        UniqueConstraint(
            "session_id", "direction", "source_id", name="uq_concierge_relays_session_id"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("concierge_sessions.id", ondelete="CASCADE"), index=True
    )
    direction: Mapped[RelayDirection] = mapped_column(str_enum(RelayDirection))
    state: Mapped[RelayState] = mapped_column(str_enum(RelayState), default=RelayState.ACCEPTED)
    source_id: Mapped[int | None] = mapped_column(default=None)
    """The message id where it was written (the user's chat or the topic)."""
    copy_id: Mapped[int | None] = mapped_column(default=None)
    """The message id of the copy the bot made."""
    content: Mapped[str] = mapped_column(
        Text, info=encrypted("concierge-relay", bind=("session_id",))
    )
    """Field-encrypted JSON: kind (text, photo, sticker) and text or caption."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class ConciergeTemplate(Base):
    """A reply template staff send with one tap ({name}: the name the user gave)."""

    __tablename__ = "concierge_templates"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
