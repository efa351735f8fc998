"""Entry points: the scheduled purge tick and the admin "purge now" button."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.base import utcnow
from bot.state import KeyValueState, RedisState
from services.retention.config import RetentionSettings
from services.retention.purge import PurgeReport, purge_expired, sweep_redis

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class PurgeIncomplete(Exception):
    """Some table (or the Redis sweep) failed; the rest was purged. The next tick retries."""

    def __init__(self, report: PurgeReport) -> None:
        super().__init__("purge incomplete: " + ", ".join(report.failed))
        self.report = report


async def run_purge(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    retention: RetentionSettings,
    clock: Clock = utcnow,
    redis: Redis | None = None,
    redis_prefix: str = "libral:",
) -> PurgeReport:
    """One complete purge: every expired row of every covered table, then the Redis TTL sweep."""
    report = await purge_expired(
        sessionmaker,
        now=clock(),
        batch_size=retention.batch_size,
        pause_seconds=retention.pause_between_batches_ms / 1000,
    )
    if redis is not None and retention.sweep_redis:
        try:
            report.redis_keys_fixed = await sweep_redis(redis, redis_prefix)
        except Exception as exc:
            log.exception("Redis TTL sweep failed; the next tick retries")
            report.redis_error = type(exc).__name__
    log.info(
        "purge: %d expired rows deleted from %d tables%s",
        report.deleted,
        len(report.tables),
        f"; failed: {', '.join(report.failed)}" if report.failed else "",
    )
    return report


async def purge_tick(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    retention: RetentionSettings,
    clock: Clock = utcnow,
    redis: Redis | None = None,
    redis_prefix: str = "libral:",
) -> PurgeReport:
    """The scheduled job (`bot.scheduler`); raises `PurgeIncomplete` so the failure is recorded."""
    report = await run_purge(
        sessionmaker=sessionmaker,
        retention=retention,
        clock=clock,
        redis=redis,
        redis_prefix=redis_prefix,
    )
    if not report.ok:
        raise PurgeIncomplete(report)
    return report


async def purge_now(
    sessionmaker: async_sessionmaker[AsyncSession],
    retention: RetentionSettings,
    kv: KeyValueState,
    *,
    redis_prefix: str,
    clock: Clock = utcnow,
) -> PurgeReport:
    """What the admin "purge now" button calls: the same purge, at once, with its report."""
    redis = kv.redis if isinstance(kv, RedisState) else None
    return await run_purge(
        sessionmaker=sessionmaker,
        retention=retention,
        clock=clock,
        redis=redis,
        redis_prefix=redis_prefix,
    )
