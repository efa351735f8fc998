"""Key-value state on real Redis and in memory: the same contract."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from bot.state import KeyValueState, MemoryState, RedisState


@pytest.fixture(params=["memory", "redis"])
async def kv(request: pytest.FixtureRequest, kv_prefix: str) -> AsyncIterator[KeyValueState]:
    if request.param == "memory":
        yield MemoryState(kv_prefix)
        return
    from tests.conftest import require_redis

    redis = Redis.from_url(require_redis())
    yield RedisState(redis, kv_prefix)
    await redis.aclose()


async def test_set_once_is_first_come_only(kv: KeyValueState) -> None:
    results = await asyncio.gather(*(kv.set_once("k", 10) for _ in range(20)))
    assert results.count(True) == 1


async def test_hit_counts_within_a_window_and_expires(kv: KeyValueState) -> None:
    assert [await kv.hit("w", 0.2) for _ in range(3)] == [1, 2, 3]
    await asyncio.sleep(0.35)
    assert await kv.hit("w", 0.2) == 1


async def test_admit_claims_once_and_counts_only_the_claimer(kv: KeyValueState) -> None:
    results = await asyncio.gather(*(kv.admit("upd:1", 10, "rate", 10) for _ in range(5)))
    claimed = [r for r in results if r.claimed]
    assert len(claimed) == 1
    assert claimed[0].count == 1
    # Copies are told what the key holds and are not counted against the rate.
    assert all(r.held == "1" and r.count is None for r in results if not r.claimed)
    second = await kv.admit("upd:2", 10, "rate", 10)
    assert second.claimed
    assert second.count == 2
    await kv.put("upd:2", "done", 10)
    assert (await kv.admit("upd:2", 10, "rate", 10)).held == "done"
    without_counter = await kv.admit("upd:3", 10)
    assert without_counter.claimed
    assert without_counter.count is None
    assert await kv.hit("rate", 10) == 3


async def test_take_is_single_use(kv: KeyValueState) -> None:
    await kv.put("token", "value", 10)
    assert await kv.get("token") == "value"
    assert await kv.take("token") == "value"
    assert await kv.take("token") is None


async def test_every_key_needs_a_ttl(kv: KeyValueState) -> None:
    with pytest.raises(ValueError, match="TTL"):
        await kv.put("k", "v", 0)


async def test_redis_keys_never_outlive_a_day(real_redis_url: str, kv_prefix: str) -> None:
    redis = Redis.from_url(real_redis_url)
    kv = RedisState(redis, kv_prefix)
    await kv.put("long", "v", 10 * 24 * 3600)
    await kv.hit("counter", 7 * 24 * 3600)
    for key in [k async for k in redis.scan_iter(match=kv_prefix + "*")]:
        ttl = await redis.ttl(key)
        assert 0 < ttl <= 24 * 3600, key
    await redis.aclose()
