"""The personal log server: the user ↔ group link and the outbox of sealed records.

Nothing here is personal in clear: the group id and title are field-encrypted (`chat_enc`) and
looked up through a keyed hash (`chat_hash`). The outbox holds each record's body field-encrypted
(`body_enc`, AES-GCM under the master key) until the delivery worker seals it to the user's key and
Telegram accepts it, for at most 24 hours.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import Base, str_enum, utcnow
from bot.db.encrypted import encrypted, lookup_hash
from bot.db.retention import MAX_AGE, Retention

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
    chat_hash: Mapped[str] = mapped_column(
        String(64),
        unique=True,
        info=lookup_hash("logserver-chat-id", source="chat_enc", json_field="chat_id"),
    )
    # Field-encrypted JSON {"chat_id": …, "title": …}.
    chat_enc: Mapped[str] = mapped_column(
        Text, info=encrypted("logserver-group-link", bind=("user_id",))
    )
    state: Mapped[LogServerState] = mapped_column(str_enum(LogServerState))
    disconnect_reason: Mapped[str | None] = mapped_column(String(32), default=None)
    key_fingerprint: Mapped[str | None] = mapped_column(String(64), default=None)
    # Field-encrypted armored key (its user ids name the person).
    public_key: Mapped[str | None] = mapped_column(
        Text, default=None, info=encrypted("logserver-public-key", bind=("user_id",))
    )
    thread_chat: Mapped[int | None] = mapped_column(default=None)
    thread_billing: Mapped[int | None] = mapped_column(default=None)
    thread_audit: Mapped[int | None] = mapped_column(default=None)
    thread_system: Mapped[int | None] = mapped_column(default=None)
    thread_rooms: Mapped[int | None] = mapped_column(default=None)
    thread_concierge: Mapped[int | None] = mapped_column(default=None)
    panel_message_id: Mapped[int | None] = mapped_column(default=None)
    # The next sequence number `record()` hands out (assigned when the record is stored).
    next_seq: Mapped[int] = mapped_column(default=0)
    # The chain head: digest and seq of the last record sealed and accepted by Telegram. Records
    # are sealed at delivery, each chaining to the one delivered before it.
    last_digest: Mapped[str] = mapped_column(String(64), default=GENESIS)
    head_seq: Mapped[int | None] = mapped_column(default=None)
    # The first seq delivered to the current group (the signed head's `first`): a log moved to a
    # new group starts there, and the reader must not count the records before it as cut off.
    # None until the group's first delivery (and for log servers delivered to before it existed).
    first_seq: Mapped[int | None] = mapped_column(default=None)
    # The head seq the pinned panel shows (signed); behind `head_seq` until the panel is edited.
    panel_seq: Mapped[int | None] = mapped_column(default=None)
    # Set while one delivery worker (of any instance) sends this user's records: the chain is
    # sealed in order, so only one worker may seal at a time.
    delivery_lease: Mapped[datetime | None] = mapped_column(default=None)
    last_delivery_at: Mapped[datetime | None] = mapped_column(default=None)
    # Records dropped after 24 h that the user has not been told about yet.
    lost_untold: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OutboxRecord(Base):
    """One stored record waiting for delivery; deleted once Telegram accepted it.

    `body_enc` is the record's body, field-encrypted; `created_at` is its timestamp. Sealing at
    delivery from these fields makes a re-send after a crash the same record (same seq, prev and
    digest). `armored` holds ciphertext sealed before this design (rows from older versions).
    """

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
    body_enc: Mapped[str | None] = mapped_column(
        Text, default=None, info=encrypted("logserver-outbox-body", bind=("user_id", "seq"))
    )
    armored: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    attempts: Mapped[int] = mapped_column(default=0)
