"""The purge and /forget against the real database (PostgreSQL in CI, SQLite otherwise)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis
from sqlalchemy import Column, Integer, MetaData, Table, func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.db.base import utcnow
from bot.db.engine import create_sessionmaker
from bot.db.models import Base, CreditMovement, MovementKind, User
from bot.db.models.admin import (
    AudienceKind,
    AuditEvent,
    AuditResult,
    Broadcast,
    BroadcastRecipient,
)
from bot.db.models.logserver import LogServer, LogServerState, OutboxRecord
from bot.settings import Settings
from bot.state import MemoryState, RedisState
from services import ledger, users
from services.retention.config import RetentionSettings
from services.retention.forget import forget_user
from services.retention.jobs import PurgeIncomplete, purge_now, purge_tick, run_purge
from services.retention.purge import purge_expired, sweep_redis

DAY = timedelta(hours=24)


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


async def _count(session: AsyncSession, model: type[Base]) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _seed_outbox(
    sessionmaker: async_sessionmaker[AsyncSession], user_id: int, old: int, new: int, now: datetime
) -> None:
    async with sessionmaker() as session:
        await users.get_or_create(session, user_id)
        session.add_all(
            OutboxRecord(
                user_id=user_id,
                seq=i,
                kind="chat",
                armored="-----BEGIN PGP MESSAGE-----",
                created_at=now - DAY - timedelta(minutes=1, seconds=i) if i < old else now,
            )
            for i in range(old + new)
        )
        await session.commit()


async def _seed_audit(
    sessionmaker: async_sessionmaker[AsyncSession], old: int, new: int, now: datetime
) -> None:
    async with sessionmaker() as session:
        session.add_all(
            AuditEvent(
                actor_id=7,
                action="ban",
                target="42",
                result=AuditResult.OK,
                expires_at=now - timedelta(seconds=1) if i < old else now + DAY,
            )
            for i in range(old + new)
        )
        await session.commit()


async def test_purge_deletes_only_expired_rows_in_batches(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    now = utcnow()
    await _seed_outbox(sessionmaker, 1001, old=250, new=5, now=now)
    await _seed_audit(sessionmaker, old=120, new=3, now=now)

    report = await purge_expired(sessionmaker, now=now, batch_size=100)

    by_table = {t.table: t for t in report.tables}
    assert by_table["log_outbox"].deleted == 250
    assert by_table["log_outbox"].batches == 3
    assert by_table["admin_audit_events"].deleted == 120
    assert report.ok
    async with sessionmaker() as session:
        assert await _count(session, OutboxRecord) == 5
        assert await _count(session, AuditEvent) == 3
    # Nothing left to do: a second tick deletes nothing.
    again = await purge_expired(sessionmaker, now=now, batch_size=100)
    assert again.deleted == 0


async def test_a_mostly_expired_table_is_purged_in_one_pass_over_its_pages(
    pg_url: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    now = utcnow()
    async with sessionmaker() as session:
        session.add_all(
            AuditEvent(
                actor_id=7,
                action="ban",
                target=str(i),
                result=AuditResult.OK,
                # Expired and live rows share every page, in no particular expiry order.
                expires_at=now - timedelta(seconds=(i * 7919) % 3600 + 1)
                if i % 2 == 0
                else now + DAY,
            )
            for i in range(20_000)
        )
        await session.commit()
    report = await purge_expired(sessionmaker, now=now, batch_size=1000)
    (audit,) = [t for t in report.tables if t.table == "admin_audit_events"]
    assert audit.heap_pass is True
    assert audit.deleted == 10_000
    async with sessionmaker() as session:
        assert await _count(session, AuditEvent) == 10_000
        left = await session.scalar(select(func.min(AuditEvent.expires_at)))
        assert left is not None
        assert left > now
    # Few expired rows: the expiry index is used instead.
    await _seed_audit(sessionmaker, old=10, new=0, now=now)
    report = await purge_expired(sessionmaker, now=now, batch_size=1000)
    (audit,) = [t for t in report.tables if t.table == "admin_audit_events"]
    assert (audit.heap_pass, audit.deleted) == (False, 10)


async def test_a_mostly_expired_table_in_expiry_order_is_purged_by_ranges(
    pg_url: str, engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    now = utcnow()
    async with sessionmaker() as session:
        session.add_all(
            AuditEvent(
                actor_id=7,
                action="ban",
                result=AuditResult.OK,
                # Written over time, expiring in turn: the first half has expired.
                expires_at=now + timedelta(seconds=i - 10_000),
            )
            for i in range(20_000)
        )
        await session.commit()
    async with engine.connect() as conn:
        await conn.execute(text("ANALYZE admin_audit_events"))
        await conn.commit()
    report = await purge_expired(sessionmaker, now=now, batch_size=1000)
    (audit,) = [t for t in report.tables if t.table == "admin_audit_events"]
    assert (audit.heap_pass, audit.deleted) == (False, 10_001)
    assert audit.batches >= 10
    async with sessionmaker() as session:
        assert await _count(session, AuditEvent) == 9_999


async def test_every_expiring_table_is_purged(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    report = await purge_expired(sessionmaker, now=utcnow(), batch_size=100)
    purged = {t.table for t in report.tables}
    # The foundation's and features' temporary tables, as they exist when this runs.
    assert {"log_outbox", "admin_audit_events", "admin_broadcasts"} <= purged
    assert "users" not in purged
    assert "credit_movements" not in purged
    assert "payment_subscriptions" not in purged


async def test_a_failing_table_does_not_stop_the_others_and_the_tick_reports_it(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    now = utcnow()
    await _seed_audit(sessionmaker, old=10, new=0, now=now)
    metadata = MetaData()
    Base.metadata.tables["admin_audit_events"].to_metadata(metadata)
    # A table the registry knows but the database lacks (a migration not yet applied).
    Table(
        "ghost_tokens",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("expires_at", Base.metadata.tables["ai_turns"].c.expires_at.type),
    )
    report = await purge_expired(sessionmaker, now=now, batch_size=100, metadata=metadata)
    assert report.failed == ["ghost_tokens"]
    assert {t.table: t.deleted for t in report.tables}["admin_audit_events"] == 10


async def test_purge_tick_raises_when_incomplete_so_the_scheduler_records_it(
    sessionmaker: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    import services.retention.jobs as jobs

    async def broken_sweep(redis: Redis, prefix: str) -> int:
        raise ConnectionError("redis went away")

    monkeypatch.setattr(jobs, "sweep_redis", broken_sweep)
    settings = RetentionSettings()
    fake_redis = Redis()  # never used: the sweep is replaced
    with pytest.raises(PurgeIncomplete, match="redis"):
        await purge_tick(sessionmaker=sessionmaker, retention=settings, redis=fake_redis)
    report = await run_purge(sessionmaker=sessionmaker, retention=settings, redis=fake_redis)
    assert report.failed == ["redis"]
    await fake_redis.aclose()


@pytest.fixture
async def redis(real_redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(real_redis_url)
    yield client
    await client.aclose()


async def test_redis_sweep_caps_every_key_under_the_prefix_at_24_hours(
    redis: Redis, kv_prefix: str
) -> None:
    other = kv_prefix.rstrip(":") + "-other:"
    try:
        await redis.set(kv_prefix + "no-ttl", "x")
        await redis.set(kv_prefix + "two-days", "x", ex=2 * 86400)
        await redis.set(kv_prefix + "fine", "x", ex=60)
        await redis.set(other + "no-ttl", "x")
        assert await sweep_redis(redis, kv_prefix) == 2
        assert 0 < await redis.ttl(kv_prefix + "no-ttl") <= 86400
        assert 0 < await redis.ttl(kv_prefix + "two-days") <= 86400
        assert 0 < await redis.ttl(kv_prefix + "fine") <= 60
        assert await redis.ttl(other + "no-ttl") == -1  # not ours
        assert await sweep_redis(redis, kv_prefix) == 0
    finally:
        await redis.delete(other + "no-ttl")


async def test_forget_deletes_the_users_personal_rows_and_keeps_the_ledger(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    now = datetime.now(UTC)
    await _seed_outbox(sessionmaker, 501, old=0, new=3, now=now)
    await _seed_outbox(sessionmaker, 502, old=0, new=2, now=now)
    async with sessionmaker() as session:
        for uid in (501, 502):
            user = await users.get_or_create(session, uid)
            await users.set_locale(session, user, "en")
            session.add(
                LogServer(
                    user_id=uid, chat_hash=f"h{uid}", chat_enc="v1.x", state=LogServerState.ACTIVE
                )
            )
            await ledger.apply_movement(session, uid, 100, MovementKind.GRANT, f"g{uid}")
        broadcast = Broadcast(
            admin_id=7,
            progress_chat_id=7,
            progress_locale="en",
            text="hello",
            audience=AudienceKind.ALL,
            expires_at=now + DAY,
        )
        session.add(broadcast)
        await session.flush()
        session.add_all(
            BroadcastRecipient(broadcast_id=broadcast.id, user_id=u) for u in (501, 502)
        )
        await session.commit()

    async with sessionmaker() as session:
        loaded = await session.get(User, 501)
        assert loaded is not None
        assert loaded.locale == "en"
        report = await forget_user(session, 501)
        await session.commit()
        # The loaded row follows without a reload (and the commit did not write it back).
        assert loaded.locale is None

    assert report.deleted == {"log_outbox": 3, "log_servers": 1, "admin_broadcast_recipients": 1}
    assert report.scrubbed == {"users": 1}
    async with sessionmaker() as session:
        gone = await session.get(User, 501)
        kept = await session.get(User, 502)
        assert gone is not None
        assert gone.locale is None
        assert gone.credits == 100
        assert kept is not None
        assert kept.locale == "en"
        assert await session.get(LogServer, 501) is None
        assert await session.get(LogServer, 502) is not None
        rows = await session.scalars(select(OutboxRecord.user_id))
        assert sorted(rows) == [502, 502]
        movements = await session.scalars(
            select(CreditMovement.user_id).where(CreditMovement.user_id == 501)
        )
        assert list(movements) == [501]
        assert await ledger.reconcile(session) == []
        recipients = await session.scalars(select(BroadcastRecipient.user_id))
        assert list(recipients) == [502]


async def test_purge_now_is_the_same_purge_with_the_redis_sweep(
    sessionmaker: async_sessionmaker[AsyncSession],
    redis: Redis,
    kv_prefix: str,
    make_settings: Callable[..., Settings],
) -> None:
    now = utcnow()
    await _seed_audit(sessionmaker, old=4, new=1, now=now)
    await redis.set(kv_prefix + "forgotten", "x")
    settings = make_settings()
    report = await purge_now(
        sessionmaker,
        settings.retention,
        RedisState(redis, kv_prefix),
        redis_prefix=settings.redis_prefix,
    )
    assert report.ok
    assert {t.table: t.deleted for t in report.tables}["admin_audit_events"] == 4
    assert report.redis_keys_fixed == 1
    # Without Redis (the embedded default) there is nothing to sweep.
    await _seed_audit(sessionmaker, old=2, new=0, now=now)
    settings = make_settings(redis_url=None)
    report = await purge_now(
        sessionmaker, settings.retention, MemoryState(), redis_prefix=settings.redis_prefix
    )
    assert (report.deleted, report.redis_keys_fixed) == (2, 0)
