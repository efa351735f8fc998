"""AI chat: context turns and summaries (encrypted, 24 h), choices, own API keys, usage, allowance.

Personal content (prompts, replies, summaries, custom personas, API keys) is stored only as field
encryption tokens (``services.crypto.fields``); the chat a group conversation belongs to only as
a keyed hash.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, utcnow
from bot.db.encrypted import Rehash, encrypted, lookup_hash


class AITurn(Base):
    """One message of a conversation (the user's prompt or the model's reply)."""

    __tablename__ = "ai_turns"
    __table_args__ = (Index("ix_ai_turns_user_scope_created", "user_id", "scope", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(
        String(64), info=lookup_hash("ai-scope", rehash=Rehash.EXPIRES, literals=("private",))
    )
    """``private``, or a keyed hash of the group chat and topic the conversation happens in."""
    exchange: Mapped[str] = mapped_column(String(32), index=True)
    """Shared by a prompt and its reply: the "exclude" button names it."""
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text, info=encrypted("ai-context", bind=("user_id",)))
    """Field-encrypted text (purpose ``ai-context``)."""
    tokens: Mapped[int]
    excluded: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class AISummary(Base):
    """A summary of older turns, made once and reused; it expires with the oldest turn it covers."""

    __tablename__ = "ai_summaries"
    __table_args__ = (Index("ix_ai_summaries_user_scope", "user_id", "scope"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(
        String(64), info=lookup_hash("ai-scope", rehash=Rehash.EXPIRES, literals=("private",))
    )
    covers_to: Mapped[int]
    """The id of the last turn the summary covers."""
    content: Mapped[str] = mapped_column(Text, info=encrypted("ai-summary", bind=("user_id",)))
    """Field-encrypted text (purpose ``ai-summary``)."""
    tokens: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class AIPreference(Base):
    """The user's model and persona (a setting: kept while the account exists)."""

    __tablename__ = "ai_preferences"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    model: Mapped[str | None] = mapped_column(String(64), default=None)
    persona: Mapped[str | None] = mapped_column(String(32), default=None)
    custom_persona: Mapped[str | None] = mapped_column(
        Text, default=None, info=encrypted("ai-persona", bind=("user_id",))
    )
    """Field-encrypted system prompt the user wrote (purpose ``ai-persona``)."""
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AIKey(Base):
    """A user's own provider API key (bring your own key), field-encrypted."""

    __tablename__ = "ai_keys"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    provider: Mapped[str] = mapped_column(String(16), primary_key=True)
    ciphertext: Mapped[str] = mapped_column(
        Text, info=encrypted("ai-key", bind=("user_id", "provider"))
    )
    """Purpose ``ai-key``, bound to the user and provider."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AIUsage(Base):
    """One reply's metering while it runs and for 24 hours after: model, tokens, credits."""

    __tablename__ = "ai_usage"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    ref: Mapped[str] = mapped_column(String(32), unique=True)
    """The reply id: the ledger's reservation, release and charge name it."""
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    model: Mapped[str] = mapped_column(String(64))
    provider: Mapped[str] = mapped_column(String(16))
    payer: Mapped[str] = mapped_column(String(16))
    """``credits``, ``allowance`` (the free daily allowance) or ``own-key``."""
    status: Mapped[str] = mapped_column(String(16))
    """``reserved`` while the reply runs, then ``settled`` or ``released``."""
    reserved: Mapped[int] = mapped_column(default=0)
    input_tokens: Mapped[int] = mapped_column(default=0)
    output_tokens: Mapped[int] = mapped_column(default=0)
    cost: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class AIUsageDaily(Base):
    """Per user, UTC day and model: replies, tokens and credits (numbers only), for ``/usage``."""

    __tablename__ = "ai_usage_daily"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    model: Mapped[str] = mapped_column(String(64), primary_key=True)
    replies: Mapped[int] = mapped_column(default=0)
    input_tokens: Mapped[int] = mapped_column(default=0)
    output_tokens: Mapped[int] = mapped_column(default=0)
    cost: Mapped[int] = mapped_column(default=0)


class AIAllowance(Base):
    """Credits of the free daily allowance used on one UTC day."""

    __tablename__ = "ai_allowance"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    used: Mapped[int] = mapped_column(default=0)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class AIDefault(Base):
    """Operator choices for everyone (the default model): not personal."""

    __tablename__ = "ai_defaults"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
