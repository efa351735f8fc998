"""Plain types shared by the log server service, its worker and the handlers."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class RecordKind(enum.StrEnum):
    """What a record is about; each kind has its own forum topic and hashtag."""

    CHAT = "chat"
    BILLING = "billing"
    AUDIT = "audit"
    SYSTEM = "system"
    ROOMS = "rooms"
    """AI room exchanges (services/rooms); its topic is made with the first such record."""
    CONCIERGE = "concierge"
    """Concierge session transcripts (services/concierge); made with the first transcript."""

    @property
    def hashtag(self) -> str:
        return f"#{self.value}"


ON_DEMAND: frozenset[RecordKind] = frozenset({RecordKind.ROOMS, RecordKind.CONCIERGE})
"""Kinds whose topic is not made at onboarding but when their first record is delivered (a user
who never runs a room gets no empty topic)."""


class RecordResult(enum.StrEnum):
    """What `record()` did with an event."""

    QUEUED = "queued"
    NO_LOG_SERVER = "no-log-server"  # the user has not set one up (or has no key yet)
    PAUSED = "paused"  # the user paused logging: nothing was stored
    FAILED = "failed"  # sealing or storing failed; logged with the user id only


class CheckProblem(enum.StrEnum):
    """Why a group cannot be the log server (each maps to a `logserver-check-…` message)."""

    NOT_FOUND = "not-found"  # the bot cannot see the chat at all
    NOT_SUPERGROUP = "not-supergroup"
    NOT_FORUM = "not-forum"
    USER_NOT_ADMIN = "user-not-admin"
    BOT_NOT_ADMIN = "bot-not-admin"
    BOT_MISSING_RIGHTS = "bot-missing-rights"
    ALREADY_LINKED = "already-linked"  # the group is another account's log server


class CheckWarning(enum.StrEnum):
    OTHER_MEMBERS = "other-members"
    EXTRA_RIGHTS = "extra-rights"
    CANNOT_PIN = "cannot-pin"


@dataclass(frozen=True, slots=True)
class CheckReport:
    """The outcome of checking a group. ``ok`` when there is no problem (warnings may remain)."""

    chat_id: int
    title: str
    problems: tuple[CheckProblem, ...] = ()
    missing_rights: tuple[str, ...] = ()
    warnings: tuple[CheckWarning, ...] = ()
    other_members: int = 0
    extra_rights: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True, slots=True)
class Status:
    """What `/logserver` shows."""

    state: str  # LogServerState value
    title: str
    fingerprint: str | None
    topics: dict[RecordKind, int | None] = field(default_factory=dict)
    queued: int = 0
    last_delivery_at: datetime | None = None
    disconnect_reason: str | None = None
