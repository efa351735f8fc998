"""What the admin panel needs from other features, as optional callables.

`bot/app.py` wires each one from the feature that provides it; one left `None` shows its button
disabled with a localised note. The admin service never imports another feature itself.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True, slots=True)
class UsageToday:
    messages: int
    tokens: int


@dataclass(frozen=True, slots=True)
class UserExtras:
    subscription_until: datetime | None
    log_server_connected: bool


@dataclass(frozen=True, slots=True)
class PaymentRow:
    id: int
    user_id: int
    stars: int
    created_at: datetime
    refunded: bool
    credits: int = 0
    credits_reversed: int = 0

    @property
    def shortfall(self) -> int:
        """Of a refunded payment: credits that could not be taken back (already spent)."""
        return self.credits - self.credits_reversed if self.refunded else 0


class AttentionReason(enum.StrEnum):
    """Why a payment needs a person (the admin panel's attention list)."""

    REFUND_REQUESTED = "refund-requested"  # a user's request the policy could not grant
    FLAGGED = "flagged"  # charged, not credited: off the catalogue (detail: why)
    CREDIT_PENDING = "credit-pending"  # charged and recorded, credit not yet applied
    RECONCILED = "reconciled"  # found by reconciliation, never delivered to us


@dataclass(frozen=True, slots=True)
class AttentionRow:
    id: int
    user_id: int
    stars: int
    created_at: datetime
    reason: AttentionReason
    detail: str = ""  # for FLAGGED: the flag (currency, payload, amount, item, terms)
    refundable: bool = False


class RefundRefused(Exception):
    """The refund could not be made; `reason` is a short machine word shown via a catalogue."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ProviderState:
    name: str
    state: str  # circuit breaker: closed / open / half-open
    configured: bool


@dataclass(frozen=True, slots=True)
class JobInfo:
    id: str
    next_run: datetime | None
    failures: int = 0


@dataclass
class AdminPorts:
    """Optional data sources and actions owned by other features."""

    # Stars revenue per UTC day from `since` (inclusive).
    revenue_by_day: Callable[[AsyncSession, date], Awaitable[dict[date, int]]] | None = None
    usage_today: Callable[[AsyncSession, datetime], Awaitable[UsageToday]] | None = None
    log_servers_connected: Callable[[AsyncSession], Awaitable[int]] | None = None
    queue_depth: Callable[[AsyncSession], Awaitable[int]] | None = None
    user_extras: Callable[[AsyncSession, int], Awaitable[UserExtras]] | None = None
    # (offset, limit) newest first; and the refund of one payment row.
    recent_payments: Callable[[AsyncSession, int, int], Awaitable[Sequence[PaymentRow]]] | None = (
        None
    )
    refund: Callable[[AsyncSession, int], Awaitable[PaymentRow]] | None = None
    # Payments that need a person, newest first, at most `limit`.
    attention: Callable[[AsyncSession, int], Awaitable[Sequence[AttentionRow]]] | None = None
    # Purge everything expired now; returns rows removed.
    purge_now: Callable[[], Awaitable[int]] | None = None
    provider_status: Callable[[], Sequence[ProviderState]] | None = None
    scheduler_jobs: Callable[[], Sequence[JobInfo]] | None = None
