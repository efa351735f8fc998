"""The user cache stays correct across instances: a commit on one evicts the entry on the other."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.engine import create_sessionmaker
from bot.db.models import User, UserStatus
from middlewares.users import DIRECTORY_INFO_KEY, UserDirectory

Instance = tuple[UserDirectory, Redis]


async def until(condition: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        await asyncio.sleep(0.02)


@pytest.fixture
async def instances(
    engine: AsyncEngine, real_redis_url: str, kv_prefix: str
) -> AsyncIterator[list[Instance]]:
    made: list[Instance] = []
    for _ in range(2):
        redis = Redis.from_url(real_redis_url)
        sessions = create_sessionmaker(engine)
        directory = UserDirectory(sessions, redis=redis, channel=kv_prefix + "users:changed")
        sessions.configure(info={DIRECTORY_INFO_KEY: directory})
        await directory.start()
        made.append((directory, redis))
    # Listening: a snapshot is served from the cache only while invalidations can arrive.
    await until(lambda: all(d._listening for d, _ in made), "both instances listening")
    yield made
    for directory, redis in made:
        await directory.stop()
        await redis.aclose()


async def test_a_ban_on_one_instance_evicts_the_other_at_once(instances: list[Instance]) -> None:
    (first, _), (second, _) = instances
    registered = await first.register(42, None)
    assert registered.status is UserStatus.ACTIVE
    # The registration told the other instance, which may have cached "no row".
    assert (await second.get(42)) is not None
    assert second.peek(42) is not None

    async with first.sessionmaker() as session:
        user = await session.get(User, 42)
        assert user is not None
        user.status = UserStatus.BANNED
        await session.commit()
    # Evicted here at commit; there, as soon as the message arrives.
    assert first.peek(42) is None
    await until(lambda: second.peek(42) is None, "evicted on the other instance")
    snapshot = await second.get(42)
    assert snapshot is not None
    assert snapshot.is_banned


async def test_a_rolled_back_change_evicts_nothing(instances: list[Instance]) -> None:
    (first, _), (second, _) = instances
    heard = second._generation
    await first.register(43, None)
    await until(lambda: second._generation > heard, "the other instance heard the registration")
    await second.get(43)
    heard = second._generation
    async with first.sessionmaker() as session:
        user = await session.get(User, 43)
        assert user is not None
        user.locale = "en"
        await session.flush()
        await session.rollback()
    # A later change is seen, so the first one would have been by now.
    async with first.sessionmaker() as session:
        other = await session.get(User, 42)
        assert other is None
        session.add(User(id=44))
        await session.commit()
    await until(lambda: second._generation > heard, "the other instance heard the commit")
    assert second.peek(43) is not None


async def test_without_the_channel_the_cache_is_bypassed(instances: list[Instance]) -> None:
    (first, _), _ = instances
    await first.register(45, None)
    assert first.peek(45) is not None
    first._listening = False  # what the listener sets when its connection drops
    assert first.peek(45) is None
