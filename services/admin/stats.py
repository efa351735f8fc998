"""Numbers for the stats screen and the 30-day chart (computed here, rendered in `chart.py`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import User
from bot.db.models.admin import BroadcastRecipient, DailyStat, RecipientState
from services.admin.identity import day_start, days_back
from services.admin.ports import AdminPorts, UsageToday


@dataclass(frozen=True, slots=True)
class Overview:
    users_total: int
    new_today: int
    active_24h: int
    active_7d: int
    usage_today: UsageToday | None
    revenue_today: int | None
    revenue_30d: int | None
    log_servers: int | None
    queue_depth: int


@dataclass(frozen=True, slots=True)
class ChartSeries:
    days: tuple[date, ...]
    active_users: tuple[int, ...]
    revenue: tuple[int, ...] | None  # None: payments not available


async def broadcast_backlog(session: AsyncSession) -> int:
    """Broadcast messages still waiting to be delivered."""
    value = await session.scalar(
        select(func.count()).where(BroadcastRecipient.state == RecipientState.PENDING)
    )
    return int(value or 0)


async def overview(session: AsyncSession, ports: AdminPorts, now: datetime) -> Overview:
    today = day_start(now)
    total, new_today, active_24h, active_7d = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(User.created_at >= today),
                func.count().filter(User.last_seen_at >= now - timedelta(hours=24)),
                func.count().filter(User.last_seen_at >= now - timedelta(days=7)),
            ).select_from(User)
        )
    ).one()
    revenue_today: int | None = None
    revenue_30d: int | None = None
    if ports.revenue_by_day is not None:
        since = (today - timedelta(days=29)).date()
        by_day = await ports.revenue_by_day(session, since)
        revenue_today = by_day.get(today.date(), 0)
        revenue_30d = sum(by_day.values())
    queue = await broadcast_backlog(session)
    if ports.queue_depth is not None:
        queue += await ports.queue_depth(session)
    return Overview(
        users_total=int(total),
        new_today=int(new_today),
        active_24h=int(active_24h),
        active_7d=int(active_7d),
        usage_today=await ports.usage_today(session, today) if ports.usage_today else None,
        revenue_today=revenue_today,
        revenue_30d=revenue_30d,
        log_servers=(
            await ports.log_servers_connected(session) if ports.log_servers_connected else None
        ),
        queue_depth=queue,
    )


async def chart_series(
    session: AsyncSession, ports: AdminPorts, now: datetime, days: int = 30
) -> ChartSeries:
    """Active users and Stars revenue for each of the last `days` UTC days (oldest first)."""
    starts = days_back(now, days)
    first = starts[0].date()
    rows = await session.execute(
        select(DailyStat.day, DailyStat.active_users).where(DailyStat.day >= first)
    )
    active = dict(rows.all())
    the_days = tuple(s.date() for s in starts)
    revenue: tuple[int, ...] | None = None
    if ports.revenue_by_day is not None:
        by_day = await ports.revenue_by_day(session, first)
        revenue = tuple(int(by_day.get(d, 0)) for d in the_days)
    return ChartSeries(
        days=the_days,
        active_users=tuple(int(active.get(d, 0)) for d in the_days),
        revenue=revenue,
    )
