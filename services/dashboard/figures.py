"""What the operators' dashboard shows: counts and states only, never a person's data.

A snapshot is computed from the database (users, active users, AI replies and tokens, Stars
revenue per hour or day, the log-delivery queue, recent admin audit events) and from runtime
state handed in by the caller as `Sources` (scheduler jobs, AI providers, database and Redis
health), so this module imports no other feature's service. It reads the other features' tables
directly: a read-only report across the whole platform, like the admin panel's wiring does.

Windows: `24h` is the last 24 hourly buckets (the current hour included), `7d` and `30d` the last
7 and 30 UTC days (today included). A window's totals are the sums of its buckets, and "active"
counts users whose last update falls inside the window.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import User
from bot.db.models.admin import AuditEvent, AuditResult, BroadcastRecipient, DailyStat
from bot.db.models.admin import RecipientState as BroadcastRecipientState
from bot.db.models.ai import AIUsage, AIUsageDaily
from bot.db.models.logserver import OutboxRecord
from bot.db.models.payments import Payment, PaymentStatus

SETTLED = "settled"  # services/ai/metering.py: UsageStatus.SETTLED


class Window(enum.StrEnum):
    DAY = "24h"
    WEEK = "7d"
    MONTH = "30d"

    @property
    def hourly(self) -> bool:
        return self is Window.DAY

    @property
    def buckets(self) -> int:
        return {Window.DAY: 24, Window.WEEK: 7, Window.MONTH: 30}[self]

    def starts(self, now: datetime) -> list[datetime]:
        """The start of every bucket, oldest first; the last one holds `now`."""
        now = now.astimezone(UTC)
        if self.hourly:
            last = now.replace(minute=0, second=0, microsecond=0)
            step = timedelta(hours=1)
        else:
            last = datetime.combine(now.date(), time(0), tzinfo=UTC)
            step = timedelta(days=1)
        return [last - step * n for n in range(self.buckets - 1, -1, -1)]


# ------------------------------------------------------------------ runtime state from outside


@dataclass(frozen=True, slots=True)
class JobFigure:
    name: str
    every_seconds: float
    runs: int
    failures: int
    last_started: datetime | None
    last_ok: datetime | None
    # Only the exception's type: its message can carry a statement's values.
    last_error_type: str | None
    next_run: datetime | None


@dataclass(frozen=True, slots=True)
class ProviderFigure:
    name: str
    configured: bool
    state: str  # circuit breaker: closed / open / half_open
    requests: int  # with a verdict, in the provider's error window
    failures: int
    consecutive_failures: int


@dataclass
class Sources:
    """Runtime state the dashboard cannot read from the database (wired in `bot/app.py`)."""

    health: Callable[[], Awaitable[Mapping[str, str]]]
    jobs: Callable[[], Sequence[JobFigure]] | None = None
    providers: Callable[[], Sequence[ProviderFigure]] | None = None


# ------------------------------------------------------------------ what the page receives


class Series(BaseModel):
    buckets: list[datetime]
    new_users: list[int]
    active_users: list[int] | None  # per day only (no hourly record exists)
    messages: list[int]
    tokens: list[int]
    stars: list[int]


class Totals(BaseModel):
    users: int
    new_users: int
    active_users: int
    messages: int
    tokens: int
    stars: int


class Queue(BaseModel):
    log_outbox: int
    oldest_seconds: int | None
    broadcast_backlog: int


class Job(BaseModel):
    name: str
    every_seconds: float
    runs: int
    failures: int
    last_started: datetime | None
    last_ok: datetime | None
    last_error_type: str | None
    next_run: datetime | None


class Provider(BaseModel):
    name: str
    configured: bool
    state: str
    requests: int
    failures: int
    error_rate: float | None  # None: no request in the window
    consecutive_failures: int


class AuditLine(BaseModel):
    action: str
    result: str
    at: datetime


class Audit(BaseModel):
    recent: list[AuditLine]
    counts: dict[str, int]  # by result over the kept events (24 hours at most)


class Snapshot(BaseModel):
    generated_at: datetime
    window: Window
    totals: Totals
    series: Series
    queue: Queue
    jobs: list[Job] | None
    providers: list[Provider] | None
    health: dict[str, str]
    audit: Audit


# ------------------------------------------------------------------ computing it


def _bucket(session: AsyncSession, column: Any, hourly: bool) -> ColumnElement[Any]:
    """The UTC hour or day a timestamp falls in, as the backend can group by it."""
    if session.get_bind().dialect.name == "postgresql":
        unit: ColumnElement[str] = literal_column("'hour'" if hourly else "'day'")
        return func.date_trunc(unit, func.timezone(literal_column("'UTC'"), column))
    # SQLite keeps UTC timestamps as "YYYY-MM-DD HH:MM:SS.ffffff" text.
    return func.strftime("%Y-%m-%d %H:00:00" if hourly else "%Y-%m-%d 00:00:00", column)


def _as_start(value: object) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(0), tzinfo=UTC)
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC)


async def _grouped(
    session: AsyncSession,
    bucket: ColumnElement[Any],
    value: ColumnElement[Any],
    *where: ColumnElement[bool],
) -> dict[datetime, int]:
    b = bucket.label("b")
    rows = await session.execute(select(b, value).where(*where).group_by(literal_column("b")))
    out: dict[datetime, int] = {}
    for start, amount in rows.all():
        key = _as_start(start)
        out[key] = out.get(key, 0) + int(amount or 0)
    return out


async def _series(session: AsyncSession, window: Window, now: datetime) -> Series:
    starts = window.starts(now)
    first = starts[0]
    hourly = window.hourly

    def spread(values: Mapping[datetime, int]) -> list[int]:
        return [int(values.get(s, 0)) for s in starts]

    new_users = await _grouped(
        session, _bucket(session, User.created_at, hourly), func.count(), User.created_at >= first
    )
    stars = await _grouped(
        session,
        _bucket(session, Payment.created_at, hourly),
        func.sum(Payment.stars),
        Payment.created_at >= first,
        Payment.status == PaymentStatus.PAID,
    )
    active: list[int] | None = None
    if hourly:
        # Replies of the last 24 hours are still in `ai_usage` (it is purged after 24 hours).
        bucket = _bucket(session, AIUsage.created_at, hourly)
        where = (AIUsage.created_at >= first, AIUsage.status == SETTLED)
        messages = await _grouped(session, bucket, func.count(), *where)
        tokens = await _grouped(
            session, bucket, func.sum(AIUsage.input_tokens + AIUsage.output_tokens), *where
        )
    else:
        rows = await session.execute(
            select(
                AIUsageDaily.day,
                func.sum(AIUsageDaily.replies),
                func.sum(AIUsageDaily.input_tokens + AIUsageDaily.output_tokens),
            )
            .where(AIUsageDaily.day >= first.date())
            .group_by(AIUsageDaily.day)
        )
        messages, tokens = {}, {}
        for day, replies, used in rows.all():
            messages[_as_start(day)] = int(replies or 0)
            tokens[_as_start(day)] = int(used or 0)
        daily = await session.execute(
            select(DailyStat.day, DailyStat.active_users).where(DailyStat.day >= first.date())
        )
        active = spread({_as_start(d): int(n) for d, n in daily.all()})
    return Series(
        buckets=starts,
        new_users=spread(new_users),
        active_users=active,
        messages=spread(messages),
        tokens=spread(tokens),
        stars=spread(stars),
    )


async def _queue(session: AsyncSession, now: datetime) -> Queue:
    depth, oldest = (
        await session.execute(select(func.count(), func.min(OutboxRecord.created_at)))
    ).one()
    backlog = await session.scalar(
        select(func.count()).where(BroadcastRecipient.state == BroadcastRecipientState.PENDING)
    )
    oldest_at = _as_start(oldest) if oldest is not None else None
    return Queue(
        log_outbox=int(depth),
        oldest_seconds=max(0, int((now - oldest_at).total_seconds())) if oldest_at else None,
        broadcast_backlog=int(backlog or 0),
    )


async def _audit(session: AsyncSession, limit: int) -> Audit:
    recent = (
        await session.execute(
            select(AuditEvent.action, AuditEvent.result, AuditEvent.created_at)
            .order_by(AuditEvent.id.desc())
            .limit(limit)
        )
    ).all()
    counts = dict.fromkeys((r.value for r in AuditResult), 0)
    for result, n in (
        await session.execute(select(AuditEvent.result, func.count()).group_by(AuditEvent.result))
    ).all():
        counts[AuditResult(result).value] = int(n)
    return Audit(
        recent=[AuditLine(action=a, result=AuditResult(r).value, at=at) for a, r, at in recent],
        counts=counts,
    )


def _provider(p: ProviderFigure) -> Provider:
    return Provider(
        name=p.name,
        configured=p.configured,
        state=p.state,
        requests=p.requests,
        failures=p.failures,
        error_rate=round(p.failures / p.requests, 4) if p.requests else None,
        consecutive_failures=p.consecutive_failures,
    )


async def snapshot(
    session: AsyncSession,
    sources: Sources,
    window: Window,
    now: datetime,
    *,
    audit_events: int = 15,
) -> Snapshot:
    series = await _series(session, window, now)
    first = series.buckets[0]
    users, active = (
        await session.execute(
            select(func.count(), func.count().filter(User.last_seen_at >= first)).select_from(User)
        )
    ).one()
    return Snapshot(
        generated_at=now,
        window=window,
        totals=Totals(
            users=int(users),
            new_users=sum(series.new_users),
            active_users=int(active),
            messages=sum(series.messages),
            tokens=sum(series.tokens),
            stars=sum(series.stars),
        ),
        series=series,
        queue=await _queue(session, now),
        jobs=[Job(**asdict(j)) for j in sources.jobs()] if sources.jobs else None,
        providers=[_provider(p) for p in sources.providers()] if sources.providers else None,
        health=dict(await sources.health()),
        audit=await _audit(session, audit_events),
    )
