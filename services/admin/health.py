"""The panel's system screen: what is up, what is waiting, what runs next."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.state import KeyValueState
from services.admin import stats
from services.admin.ports import AdminPorts, JobInfo, ProviderState

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SystemStatus:
    database: bool
    redis: bool | None  # None: this deployment runs without Redis
    queue: int
    jobs: Sequence[JobInfo]
    providers: Sequence[ProviderState]  # the configured ones only


async def system_status(
    session: AsyncSession, kv: KeyValueState, ports: AdminPorts, *, redis_configured: bool
) -> SystemStatus:
    try:
        await session.execute(text("SELECT 1"))
        database = True
    except Exception:
        log.warning("admin system check: database unreachable", exc_info=True)
        database = False
    redis = await kv.ping() if redis_configured else None
    queue = await stats.broadcast_backlog(session)
    if ports.queue_depth is not None:
        queue += await ports.queue_depth(session)
    jobs = ports.scheduler_jobs() if ports.scheduler_jobs is not None else []
    providers = (
        [p for p in ports.provider_status() if p.configured]
        if ports.provider_status is not None
        else []
    )
    return SystemStatus(database, redis, queue, jobs, providers)
