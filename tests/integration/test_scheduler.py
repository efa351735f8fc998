"""The scheduler: one run per tick across instances, failures retried, jobs checked when added."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.engine import create_engine, create_sessionmaker
from bot.db.models.admin import AuditEvent, AuditResult
from bot.scheduler import Scheduler
from bot.state import MemoryState, RedisState
from services.retention.config import RetentionSettings
from services.retention.jobs import purge_tick

START = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
EVERY = timedelta(minutes=5)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


# Jobs registered by the tests below.


async def recording_purge(*, sink: list[tuple[str, int, int]], instance: str, **deps: Any) -> None:
    """The real purge, noting which instance ran it, for which tick, and what it deleted."""
    report = await purge_tick(**deps)
    sink.append((instance, round(deps["clock"]().timestamp()), report.deleted))


async def record(*, sink: list[tuple[str, int]], instance: str, clock: Clock | None = None) -> None:
    now = clock() if clock is not None else datetime.now(UTC)
    sink.append((instance, round(now.timestamp())))


async def flaky(*, calls: list[int]) -> None:
    calls.append(len(calls))
    if len(calls) == 1:
        raise RuntimeError("provider down")


def not_async() -> None:
    """A plain function cannot be a job."""


@pytest.fixture
async def two_redis(real_redis_url: str) -> AsyncIterator[tuple[Redis, Redis]]:
    # Two connections, as two bot processes would have.
    first, second = Redis.from_url(real_redis_url), Redis.from_url(real_redis_url)
    yield first, second
    await first.aclose()
    await second.aclose()


async def _expired_audit_rows(engine: AsyncEngine, count: int, now: datetime) -> None:
    async with create_sessionmaker(engine)() as session:
        session.add_all(
            AuditEvent(
                actor_id=1,
                action="ban",
                target=str(i),
                result=AuditResult.OK,
                created_at=now - timedelta(hours=25),
                expires_at=now - timedelta(hours=1),
            )
            for i in range(count)
        )
        await session.commit()


async def _audit_rows(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(select(func.count()).select_from(AuditEvent)) or 0)


async def test_two_instances_on_one_postgres_and_redis_run_each_purge_tick_once(
    pg_url: str, two_redis: tuple[Redis, Redis], kv_prefix: str
) -> None:
    clock = Clock(START)
    sink: list[tuple[str, int, int]] = []
    engines = [create_engine(pg_url), create_engine(pg_url)]
    schedulers = []
    for name, engine, redis in zip(("a", "b"), engines, two_redis, strict=True):
        scheduler = Scheduler(RedisState(redis, kv_prefix), clock=clock)
        scheduler.add(
            "retention.purge",
            recording_purge,
            every=EVERY,
            sink=sink,
            instance=name,
            sessionmaker=create_sessionmaker(engine),
            retention=RetentionSettings(batch_size=100),
            clock=clock,
            redis=redis,
            redis_prefix=kv_prefix,
        )
        schedulers.append(scheduler)
    try:
        for tick in range(6):
            await _expired_audit_rows(engines[0], 150, clock.now)
            ran = await asyncio.gather(*(s.run("retention.purge") for s in schedulers))
            assert sorted(ran) == [False, True], f"tick {tick}"
            assert await _audit_rows(engines[0]) == 0
            clock.now += EVERY
    finally:
        for engine in engines:
            await engine.dispose()
    assert len(sink) == 6
    assert len({t for _, t, _ in sink}) == 6
    assert all(deleted == 150 for _, _, deleted in sink)
    runs = [s.status()[0] for s in schedulers]
    assert sum(r.runs for r in runs) == 6
    assert sum(r.skipped for r in runs) == 6


async def test_started_schedulers_fire_each_tick_on_one_instance_only(
    two_redis: tuple[Redis, Redis], kv_prefix: str
) -> None:
    sink: list[tuple[str, int]] = []
    schedulers = []
    for name, redis in zip(("a", "b"), two_redis, strict=True):
        scheduler = Scheduler(RedisState(redis, kv_prefix))
        scheduler.add(
            "probe",
            record,
            every=timedelta(seconds=1),
            sink=sink,
            instance=name,
        )
        schedulers.append(scheduler)
    for scheduler in schedulers:
        await scheduler.start()
    try:
        for _ in range(200):
            if len({tick for _, tick in sink}) >= 3:
                break
            await asyncio.sleep(0.05)
    finally:
        for scheduler in schedulers:
            await scheduler.shutdown()
    ticks = [tick for _, tick in sink]
    assert len(set(ticks)) >= 3
    assert len(ticks) == len(set(ticks)), f"a tick ran twice: {sink}"
    assert not any(s.running for s in schedulers)


async def test_a_failing_job_is_logged_and_runs_again_next_tick(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock(START)
    calls: list[int] = []
    scheduler = Scheduler(MemoryState(), clock=clock)
    scheduler.add("flaky", flaky, every=EVERY, calls=calls)
    with caplog.at_level(logging.ERROR, logger="bot.scheduler"):
        assert await scheduler.run("flaky") is True
    assert "job flaky" in caplog.text
    assert "provider down" in caplog.text
    status = scheduler.status()[0]
    assert status.failures == 1
    assert status.last_error == "RuntimeError: provider down"
    # The same tick is not retried by another trigger; the next one is.
    assert await scheduler.run("flaky") is False
    clock.now += EVERY
    assert await scheduler.run("flaky") is True
    status = scheduler.status()[0]
    assert calls == [0, 1]
    assert status.last_error is None
    assert status.last_ok == clock.now


async def test_ticks_are_aligned_so_instances_agree_despite_small_clock_skew() -> None:
    clock = Clock(START)
    scheduler = Scheduler(MemoryState(), clock=clock)
    scheduler.add("probe", record, every=EVERY, sink=[], instance="a")
    base = scheduler.tick_of("probe", START)
    assert scheduler.tick_of("probe", START - timedelta(seconds=20)) == base
    assert scheduler.tick_of("probe", START + timedelta(seconds=20)) == base
    assert scheduler.tick_of("probe", START + EVERY) == base + 1


def test_jobs_are_checked_when_registered() -> None:
    scheduler = Scheduler(MemoryState())
    with pytest.raises(TypeError, match="not an async function"):
        # mypy refuses it too; the run-time check is for callables that escape it (typed Any).
        scheduler.add("bad", not_async, every=EVERY)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="between"):
        scheduler.add("slow", flaky, every=timedelta(days=2), calls=[])
    scheduler.add("ok", flaky, every=EVERY, calls=[])
    with pytest.raises(ValueError, match="twice"):
        scheduler.add("ok", flaky, every=EVERY, calls=[])
