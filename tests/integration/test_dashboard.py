"""The dashboard's figures against a real database (PostgreSQL when TEST_DATABASE_URL is set),
its live events across two instances over a real Redis, and the provider error window."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import User
from bot.db.models.admin import (
    AudienceKind,
    AuditEvent,
    AuditResult,
    Broadcast,
    BroadcastRecipient,
    DailyStat,
    RecipientState,
)
from bot.db.models.ai import AIUsage, AIUsageDaily
from bot.db.models.logserver import OutboxRecord
from bot.db.models.payments import Payment, PaymentKind, PaymentStatus
from services.ai.providers.registry import OutcomeWindow
from services.dashboard.events import MemoryBus, RedisBus, TrafficTicker
from services.dashboard.figures import JobFigure, ProviderFigure, Sources, Window, snapshot

NOW = datetime(2026, 11, 22, 15, 40, tzinfo=UTC)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


async def healthy() -> Mapping[str, str]:
    return {"database": "ok", "redis": "ok"}


SOURCES = Sources(
    health=healthy,
    jobs=lambda: [
        JobFigure("retention.purge", 60.0, 3, 1, NOW, NOW - HOUR, "OperationalError", NOW + HOUR)
    ],
    providers=lambda: [ProviderFigure("openai", True, "closed", 8, 2, 0)],
)


def user(uid: int, created: datetime, seen: datetime | None = None) -> User:
    return User(id=uid, created_at=created, last_seen_at=seen or created)


def payment(pid: int, uid: int, stars: int, at: datetime, *, refunded: bool = False) -> Payment:
    return Payment(
        charge_id=f"charge-{pid}",
        user_id=uid,
        kind=PaymentKind.PACK,
        item_id="p1",
        item_version="1",
        stars=stars,
        credits=stars * 10,
        status=PaymentStatus.REFUNDED if refunded else PaymentStatus.PAID,
        created_at=at,
    )


def usage(ref: str, uid: int, at: datetime, tokens: tuple[int, int], status: str) -> AIUsage:
    return AIUsage(
        ref=ref,
        user_id=uid,
        model="m",
        provider="openai",
        payer="credits",
        status=status,
        input_tokens=tokens[0],
        output_tokens=tokens[1],
        created_at=at,
        expires_at=at + DAY,
    )


async def seed(session: AsyncSession) -> None:
    today = NOW.date()
    session.add_all(
        [
            user(1, NOW - 40 * DAY, NOW - timedelta(minutes=10)),
            user(2, NOW - 20 * DAY, NOW - 3 * DAY),
            user(3, NOW - 2 * HOUR, NOW - 2 * HOUR),
            user(4, NOW - 25 * HOUR, NOW - 25 * HOUR),
            user(5, NOW - timedelta(minutes=5)),  # this hour
        ]
    )
    await session.flush()
    session.add_all(
        [
            payment(1, 1, 50, NOW - timedelta(minutes=30)),
            payment(2, 2, 100, NOW - 5 * HOUR),
            payment(3, 2, 999, NOW - 4 * HOUR, refunded=True),
            payment(4, 3, 25, NOW - 3 * DAY),
            payment(5, 1, 7, NOW - 40 * DAY),
            usage("u1", 1, NOW - HOUR, (100, 20), "settled"),
            usage("u2", 1, NOW - HOUR, (10, 2), "settled"),
            usage("u3", 3, NOW - 2 * HOUR, (5, 5), "released"),
            usage("u4", 3, NOW - 23 * HOUR, (1, 1), "settled"),
            AIUsageDaily(
                user_id=1, day=today, model="m", replies=2, input_tokens=110, output_tokens=22
            ),
            AIUsageDaily(
                user_id=3,
                day=today - timedelta(days=1),
                model="m",
                replies=1,
                input_tokens=1,
                output_tokens=1,
            ),
            AIUsageDaily(
                user_id=2,
                day=today - timedelta(days=10),
                model="m",
                replies=4,
                input_tokens=40,
                output_tokens=0,
            ),
            DailyStat(day=today, active_users=3),
            DailyStat(day=today - timedelta(days=6), active_users=2),
            DailyStat(day=today - timedelta(days=7), active_users=9),
            OutboxRecord(
                user_id=1, seq=1, kind="chat", armored="x", created_at=NOW - timedelta(seconds=90)
            ),
            OutboxRecord(
                user_id=2, seq=1, kind="chat", armored="x", created_at=NOW - timedelta(seconds=30)
            ),
        ]
    )
    bc = Broadcast(
        admin_id=1,
        progress_chat_id=1,
        progress_locale="ja",
        text="hi",
        audience=AudienceKind.ALL,
        expires_at=NOW + DAY,
    )
    session.add(bc)
    await session.flush()
    session.add_all(
        [
            BroadcastRecipient(broadcast_id=bc.id, user_id=2, state=RecipientState.PENDING),
            BroadcastRecipient(broadcast_id=bc.id, user_id=3, state=RecipientState.SENT),
        ]
    )
    for n, (action, result) in enumerate(
        [("open", AuditResult.OK), ("dashboard", AuditResult.DENIED), ("stats", AuditResult.OK)]
    ):
        at = NOW - timedelta(minutes=10 - n)
        session.add(
            AuditEvent(
                actor_id=1,
                action=action,
                target="user:2",
                result=result,
                created_at=at,
                expires_at=at + DAY,
            )
        )
    await session.flush()


async def test_the_24_hour_window_is_hourly_and_matches_the_rows(session: AsyncSession) -> None:
    await seed(session)
    snap = await snapshot(session, SOURCES, Window.DAY, NOW)
    s = snap.series
    assert len(s.buckets) == 24
    assert s.buckets[-1] == NOW.replace(minute=0)
    assert s.buckets[0] == NOW.replace(minute=0) - 23 * HOUR

    def at(hours_ago: int) -> int:
        return 23 - hours_ago

    expected_new = [0] * 24
    expected_new[at(0)] = 1  # user 5
    expected_new[at(2)] = 1  # user 3 (user 4, 25 h ago, is outside)
    assert s.new_users == expected_new
    expected_stars = [0] * 24
    expected_stars[at(0)] = 50  # 15:10 falls in the 15:00 bucket
    expected_stars[at(5)] = 100  # the refunded 999 is not revenue
    assert s.stars == expected_stars
    expected_messages = [0] * 24
    expected_messages[at(1)] = 2
    expected_messages[at(23)] = 1  # released replies are not messages
    assert s.messages == expected_messages
    expected_tokens = [0] * 24
    expected_tokens[at(1)] = 132
    expected_tokens[at(23)] = 2
    assert s.tokens == expected_tokens
    assert s.active_users is None
    assert snap.totals.model_dump() == {
        "users": 5,
        "new_users": 2,
        "active_users": 3,  # users 1, 3 and 5
        "messages": 3,
        "tokens": 134,
        "stars": 150,
    }


async def test_the_day_windows_and_the_status_figures(session: AsyncSession) -> None:
    await seed(session)
    week = await snapshot(session, SOURCES, Window.WEEK, NOW)
    assert len(week.series.buckets) == 7
    assert week.series.buckets[-1] == datetime(2026, 11, 22, tzinfo=UTC)
    assert week.series.active_users == [2, 0, 0, 0, 0, 0, 3]
    assert week.series.new_users == [0, 0, 0, 0, 0, 1, 2]  # user 4 yesterday, users 3 and 5
    assert week.series.stars == [0, 0, 0, 25, 0, 0, 150]
    assert week.series.messages == [0, 0, 0, 0, 0, 1, 2]
    assert week.totals.active_users == 5  # users 2 (3 days ago) and 4 (25 hours ago) too
    month = await snapshot(session, SOURCES, Window.MONTH, NOW)
    assert month.totals.new_users == 4  # user 1 joined 40 days ago
    assert month.totals.stars == 175
    assert month.totals.messages == 7
    assert month.totals.tokens == 174

    assert week.queue.model_dump() == {
        "log_outbox": 2,
        "oldest_seconds": 90,
        "broadcast_backlog": 1,
    }
    assert [(a.action, a.result) for a in week.audit.recent] == [
        ("stats", "ok"),
        ("dashboard", "denied"),
        ("open", "ok"),
    ]
    assert week.audit.counts == {"ok": 2, "denied": 1, "failed": 0}
    assert week.providers is not None
    assert week.providers[0].error_rate == 0.25
    assert week.jobs is not None
    assert week.jobs[0].last_error_type == "OperationalError"
    assert week.health == {"database": "ok", "redis": "ok"}
    # Counts and states only: no user id, no audit target anywhere in what the page receives.
    text = week.model_dump_json()
    assert "user:2" not in text
    assert "actor" not in text


async def test_an_empty_database_gives_zeros(session: AsyncSession) -> None:
    snap = await snapshot(session, Sources(health=healthy), Window.MONTH, NOW)
    assert snap.totals.users == 0
    assert snap.series.stars == [0] * 30
    assert snap.queue.oldest_seconds is None
    assert snap.jobs is None
    assert snap.providers is None


async def test_events_reach_every_instance_through_redis(
    real_redis_url: str, kv_prefix: str
) -> None:
    channel = kv_prefix + "dash:events"
    one, two = Redis.from_url(real_redis_url), Redis.from_url(real_redis_url)
    a, b = RedisBus(one, channel), RedisBus(two, channel)
    await a.start()
    await b.start()
    try:
        async with a.subscribe() as on_a, b.subscribe() as on_b:
            ticker = TrafficTicker(
                a, lambda: {"message": 3, "callback_query": 1}, every=60, instance="a"
            )
            assert await ticker.tick()  # from nothing to these counts
            assert not await ticker.tick()  # nothing new: nothing published
            for sub in (on_a, on_b):
                event = await sub.get(timeout=10)
                assert event is not None
                assert event["type"] == "traffic"
                assert event["instance"] == "a"
                assert event["updates"] == 4
                assert event["by_type"] == {"message": 3, "callback_query": 1}
            # Not JSON, or not an object: ignored, and the listener goes on.
            await one.publish(channel, b"not json")
            await one.publish(channel, json.dumps([1, 2]))
            await a.publish({"type": "traffic", "updates": 1})
            event = await on_b.get(timeout=10)
            assert event == {"type": "traffic", "updates": 1}
    finally:
        await a.stop()
        await b.stop()
        await one.aclose()
        await two.aclose()


async def test_the_memory_bus_fans_out_and_a_slow_page_loses_only_old_events() -> None:
    bus = MemoryBus()
    async with bus.subscribe() as first, bus.subscribe() as second:
        assert bus.subscribers == 2
        for n in range(100):
            await bus.publish({"n": n})
        got = [await first.get(timeout=1) for _ in range(64)]
        assert got[0] == {"n": 36}
        assert got[-1] == {"n": 99}
        assert await first.get(timeout=0.01) is None
        assert await second.get(timeout=1) == {"n": 36}
    assert bus.subscribers == 0


def test_the_provider_error_window_counts_only_recent_outcomes() -> None:
    clock = [1000.0]
    window = OutcomeWindow(seconds=60, clock=lambda: clock[0])
    window.add(failed=True)
    clock[0] += 30
    window.add(failed=False)
    window.add(failed=True)
    assert window.counts() == (3, 2)
    clock[0] += 45  # the first outcome is now 75 s old
    assert window.counts() == (2, 1)
    clock[0] += 60
    assert window.counts() == (0, 0)


@pytest.mark.parametrize("window", list(Window))
def test_bucket_starts_end_with_the_current_one(window: Window) -> None:
    starts = window.starts(NOW)
    assert starts[-1] <= NOW < starts[-1] + (HOUR if window.hourly else DAY)
    assert starts == sorted(starts)
    assert len(set(starts)) == window.buckets
