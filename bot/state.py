"""Short-lived shared state: update de-duplication, rate windows, one-time tokens, job locks.

Redis when `REDIS_URL` is set (several instances share it), process memory otherwise. Every key
carries a TTL, so nothing lingers past its purpose (and never past 24 hours).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import BlockingConnectionPool, Redis

MAX_TTL_SECONDS = 24 * 3600
# redis-py's default pool raises MaxConnectionsError at once when all its connections are busy, so
# a burst of concurrent updates failed in the middlewares; this one makes them wait for a free one.
REDIS_MAX_CONNECTIONS = 100
REDIS_POOL_TIMEOUT_SECONDS = 20.0


@dataclass(frozen=True, slots=True)
class Admission:
    """What `admit` found: whether this caller claimed the key, else what the key holds."""

    claimed: bool
    held: str | None = None
    count: int | None = None
    """The rate counter after this hit; None when not claimed or no counter was given."""


class KeyValueState(Protocol):
    async def set_once(self, key: str, ttl: float) -> bool:
        """Set `key` if absent; True when this caller set it (the first one)."""

    async def admit(
        self, key: str, ttl: float, counter: str | None = None, window: float = 0.0
    ) -> Admission:
        """`set_once(key, ttl)` and, only if this caller claimed the key, `hit(counter,
        window)`: one round trip for an update's de-duplication and its sender's rate."""

    async def hit(self, key: str, window: float) -> int:
        """Count one event in a fixed window starting at the first hit; return the count."""

    async def put(self, key: str, value: str, ttl: float) -> None: ...

    async def get(self, key: str) -> str | None: ...

    async def take(self, key: str) -> str | None:
        """Get and delete in one step (single-use tokens)."""

    async def delete(self, key: str) -> None: ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...


def _ttl(ttl: float) -> float:
    if ttl <= 0:
        raise ValueError("every key needs a positive TTL")
    return min(ttl, MAX_TTL_SECONDS)


class MemoryState:
    """One process; expiry checked on read, swept when the table grows."""

    def __init__(self, prefix: str = "libral:") -> None:
        self._prefix = prefix
        self._data: dict[str, tuple[str, float]] = {}
        self._now = time.monotonic

    def _alive(self, key: str) -> tuple[str, float] | None:
        item = self._data.get(key)
        if item is None:
            return None
        if item[1] <= self._now():
            del self._data[key]
            return None
        return item

    def _sweep(self) -> None:
        if len(self._data) > 10_000:
            now = self._now()
            for key in [k for k, (_, exp) in self._data.items() if exp <= now]:
                del self._data[key]

    async def set_once(self, key: str, ttl: float) -> bool:
        key = self._prefix + key
        if self._alive(key) is not None:
            return False
        self._sweep()
        self._data[key] = ("1", self._now() + _ttl(ttl))
        return True

    async def admit(
        self, key: str, ttl: float, counter: str | None = None, window: float = 0.0
    ) -> Admission:
        if not await self.set_once(key, ttl):
            return Admission(False, await self.get(key))
        return Admission(True, count=None if counter is None else await self.hit(counter, window))

    async def hit(self, key: str, window: float) -> int:
        key = self._prefix + key
        item = self._alive(key)
        if item is None:
            self._sweep()
            self._data[key] = ("1", self._now() + _ttl(window))
            return 1
        count = int(item[0]) + 1
        self._data[key] = (str(count), item[1])
        return count

    async def put(self, key: str, value: str, ttl: float) -> None:
        self._sweep()
        self._data[self._prefix + key] = (value, self._now() + _ttl(ttl))

    async def get(self, key: str) -> str | None:
        item = self._alive(self._prefix + key)
        return None if item is None else item[0]

    async def take(self, key: str) -> str | None:
        item = self._alive(self._prefix + key)
        if item is None:
            return None
        del self._data[self._prefix + key]
        return item[0]

    async def delete(self, key: str) -> None:
        self._data.pop(self._prefix + key, None)

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._data.clear()


# KEYS: the key to claim, the rate counter (optional). ARGV: claim ms, window ms.
# Returns {0, count} claimed (count 0 without a counter), {1, value} held by someone else.
_ADMIT = """
local held = redis.call('SET', KEYS[1], '1', 'PX', ARGV[1], 'NX', 'GET')
if held then return {1, held} end
if #KEYS < 2 then return {0, 0} end
local n = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2], 'NX')
return {0, n}
"""


class RedisState:
    def __init__(self, redis: Redis, prefix: str = "libral:") -> None:
        self.redis = redis
        self._prefix = prefix
        self._admit = redis.register_script(_ADMIT)

    async def set_once(self, key: str, ttl: float) -> bool:
        done = await self.redis.set(self._prefix + key, "1", px=int(_ttl(ttl) * 1000), nx=True)
        return bool(done)

    async def admit(
        self, key: str, ttl: float, counter: str | None = None, window: float = 0.0
    ) -> Admission:
        keys = [self._prefix + key]
        if counter is not None:
            keys.append(self._prefix + counter)
        args = [int(_ttl(ttl) * 1000), int(_ttl(window) * 1000) if counter is not None else 0]
        code, value = await self._admit(keys=keys, args=args)
        if int(code) == 1:
            return Admission(False, _text(value))
        return Admission(True, count=int(value) if counter is not None else None)

    async def hit(self, key: str, window: float) -> int:
        full = self._prefix + key
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(full)
            # NX: the window starts at the first hit and is not extended by later ones.
            pipe.pexpire(full, int(_ttl(window) * 1000), nx=True)
            count, _ = await pipe.execute()
        return int(count)

    async def put(self, key: str, value: str, ttl: float) -> None:
        await self.redis.set(self._prefix + key, value, px=int(_ttl(ttl) * 1000))

    async def get(self, key: str) -> str | None:
        value = await self.redis.get(self._prefix + key)
        return None if value is None else _text(value)

    async def take(self, key: str) -> str | None:
        value = await self.redis.getdel(self._prefix + key)
        return None if value is None else _text(value)

    async def delete(self, key: str) -> None:
        await self.redis.delete(self._prefix + key)

    async def ping(self) -> bool:
        try:
            return bool(await self.redis.ping())
        except Exception:  # noqa: BLE001 - health check reports any failure as "down"
            return False

    async def close(self) -> None:
        await self.redis.aclose()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def create_state(redis_url: str | None, prefix: str) -> tuple[KeyValueState, Redis | None]:
    if redis_url is None:
        return MemoryState(prefix), None
    pool = BlockingConnectionPool.from_url(
        redis_url, max_connections=REDIS_MAX_CONNECTIONS, timeout=REDIS_POOL_TIMEOUT_SECONDS
    )
    redis = Redis.from_pool(pool)  # owns the pool: closing the client closes it
    return RedisState(redis, prefix), redis
