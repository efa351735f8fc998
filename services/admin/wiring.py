"""The admin panel's view of the other features, assembled once in `bot/app.py`.

Each port is filled from the feature that provides it (payments and AI attach theirs from their
own `admin_port.py`); the panel shows a missing one as a disabled button or "—".
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.base import utcnow
from bot.db.models.logserver import LogServer, LogServerState
from bot.db.models.payments import StarSubscription, SubscriptionState
from bot.scheduler import Scheduler
from bot.state import KeyValueState
from services import logserver
from services.admin.ports import AdminPorts, JobInfo, UserExtras
from services.retention.config import RetentionSettings
from services.retention.jobs import purge_now


async def user_extras(session: AsyncSession, user_id: int) -> UserExtras:
    """Whether the user has a subscription running and a log server connected (never content)."""
    until: datetime | None = await session.scalar(
        select(func.max(StarSubscription.expires_at)).where(
            StarSubscription.user_id == user_id,
            StarSubscription.state.in_([SubscriptionState.ACTIVE, SubscriptionState.CANCELED]),
            StarSubscription.expires_at > utcnow(),
        )
    )
    connected = await session.scalar(
        select(func.count())
        .select_from(LogServer)
        .where(
            LogServer.user_id == user_id,
            LogServer.state.in_([LogServerState.ACTIVE, LogServerState.PAUSED]),
        )
    )
    return UserExtras(subscription_until=until, log_server_connected=bool(connected))


def build_ports(
    *,
    retention: RetentionSettings,
    redis_prefix: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    kv: KeyValueState,
    scheduler: Scheduler,
) -> AdminPorts:
    async def purge() -> int:
        report = await purge_now(sessionmaker, retention, kv, redis_prefix=redis_prefix)
        if not report.ok:
            raise RuntimeError("purge incomplete: " + ", ".join(report.failed))
        return report.deleted

    def jobs() -> list[JobInfo]:
        return [JobInfo(s.name, s.next_run, s.failures) for s in scheduler.status()]

    return AdminPorts(
        purge_now=purge,
        scheduler_jobs=jobs,
        log_servers_connected=logserver.count_connected,
        queue_depth=logserver.queue_depth,
        user_extras=user_extras,
    )
