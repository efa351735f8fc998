"""AI rooms: a group (or supergroup with topics) where people and the AI talk together.

The chat a room lives in is found through a keyed hash and kept field-encrypted (so a master-key
rotation can recompute the hash); the room's conversation is kept as field encryption tokens and
purged within 24 hours, like the private AI context.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, utcnow
from bot.db.encrypted import encrypted, lookup_hash


class Room(Base):
    """One room and its settings (kept while the room exists; its Master pays)."""

    __tablename__ = "rooms"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    chat_key: Mapped[str] = mapped_column(
        String(64), unique=True, info=lookup_hash("room-chat", source="chat_enc")
    )
    """Keyed hash of the Telegram chat id (purpose ``room-chat``): look-ups without the id."""
    chat_enc: Mapped[str | None] = mapped_column(
        Text, default=None, info=encrypted("room-chat-id", bind=("id",))
    )
    """The chat id, field-encrypted (bound to the room): a master-key rotation recomputes
    ``chat_key`` from it. Empty for rooms made before it existed until they are next used."""
    master_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    model: Mapped[str | None] = mapped_column(String(64), default=None)
    persona: Mapped[str | None] = mapped_column(String(32), default=None)
    daily_budget: Mapped[int] = mapped_column(default=0)
    """Credits the whole room may spend per UTC day (0: no limit beyond the Master's balance)."""
    member_cap: Mapped[int] = mapped_column(default=0)
    """Credits one member may spend per UTC day (0: no cap)."""
    guests_may_ask: Mapped[bool] = mapped_column(default=True)
    guest_quota: Mapped[int] = mapped_column(default=3)
    """Questions a Guest may ask per UTC day."""
    trigger: Mapped[str] = mapped_column(String(16), default="mention")
    """``mention`` (mention, reply or /ask) or ``all`` (every message the bot can see)."""
    newcomer_role: Mapped[str] = mapped_column(String(16), default="member")
    """The role of people the room has not given one."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RoomMember(Base):
    """A role the room gave someone (people without a row have the room's newcomer role)."""

    __tablename__ = "room_members"

    room_id: Mapped[int] = mapped_column(
        ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    role: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class RoomTurn(Base):
    """One message of a room's conversation (a member's question or the AI's answer)."""

    __tablename__ = "room_turns"
    __table_args__ = (Index("ix_room_turns_room_scope_created", "room_id", "scope", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    room_id: Mapped[int] = mapped_column(ForeignKey("rooms.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(64), info=lookup_hash("room-scope"))
    """Keyed hash of the chat and topic: each forum topic has its own conversation."""
    exchange: Mapped[str] = mapped_column(String(32), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    """Who asked: they (and the room's Admins) may exclude or regenerate the exchange."""
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text, info=encrypted("room-turn", bind=("room_id",)))
    """Field-encrypted JSON of the speaker's display name and the text (purpose ``room-turn``)."""
    tokens: Mapped[int]
    excluded: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class RoomSpend(Base):
    """Per room, UTC day and member: questions and credits (numbers only), for the room's budget,
    the per-member cap, the Guests' quota and ``/room usage``. Expires at the end of the day."""

    __tablename__ = "room_spend"

    room_id: Mapped[int] = mapped_column(
        ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    replies: Mapped[int] = mapped_column(default=0)
    cost: Mapped[int] = mapped_column(default=0)
    reserved: Mapped[int] = mapped_column(default=0)
    """Credits held by answers still running (released or turned into ``cost`` when they end)."""
    expires_at: Mapped[datetime] = mapped_column(index=True)
