"""Live events for the dashboard: counts and states only, shared by every instance.

Each instance's `TrafficTicker` publishes, once per tick and only when something happened, how
many updates it handled since the last tick. `RedisBus` carries the events over Redis pub/sub,
so a page served by one instance sees the traffic of all of them; `MemoryBus` does the same
within the one embedded process. Every open page is a `Subscription` with a bounded queue: a
page that stops reading loses old events, never the server's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.waiting import wait_set

log = logging.getLogger(__name__)

Event = dict[str, Any]
QUEUE_SIZE = 64
# How long the Redis listener waits for a message before it looks at its stop flag.
POLL_SECONDS = 0.5


CLOSING: Event = {"type": "closing"}


class Subscription:
    def __init__(self, size: int = QUEUE_SIZE) -> None:
        self._queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=size)
        # Set when this instance stops: the page's stream ends (and the page reconnects).
        self.closed = False

    def close(self) -> None:
        self.closed = True
        self.offer(CLOSING)

    def offer(self, event: Event) -> None:
        if self._queue.full():
            self._queue.get_nowait()  # a slow page loses the oldest event
        self._queue.put_nowait(event)

    async def get(self, timeout: float | None = None) -> Event | None:
        """The next event, or None when `timeout` seconds pass without one."""
        try:
            async with asyncio.timeout(timeout):
                return await self._queue.get()
        except TimeoutError:
            return None


class EventBus(Protocol):
    async def publish(self, event: Mapping[str, Any]) -> None: ...

    def subscribe(self) -> contextlib.AbstractAsyncContextManager[Subscription]: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class _Fanout:
    def __init__(self) -> None:
        self._subscribers: set[Subscription] = set()

    def deliver(self, event: Event) -> None:
        for sub in list(self._subscribers):
            sub.offer(event)

    def close_all(self) -> None:
        for sub in list(self._subscribers):
            sub.close()

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[Subscription]:
        sub = Subscription()
        self._subscribers.add(sub)
        try:
            yield sub
        finally:
            self._subscribers.discard(sub)


class MemoryBus(_Fanout):
    """One process (the embedded default)."""

    async def publish(self, event: Mapping[str, Any]) -> None:
        self.deliver(dict(event))

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self.close_all()


class RedisBus(_Fanout):
    """Redis pub/sub on one channel; each instance listens once and fans out to its pages."""

    def __init__(self, redis: Redis, channel: str, *, retry_seconds: float = 1.0) -> None:
        super().__init__()
        self.redis = redis
        self.channel = channel
        self.retry_seconds = retry_seconds
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._stopping = False

    async def publish(self, event: Mapping[str, Any]) -> None:
        try:
            await self.redis.publish(self.channel, json.dumps(dict(event), separators=(",", ":")))
        except RedisError:
            # Live figures are a convenience: a Redis hiccup must not fail the caller.
            log.warning("dashboard event not published (Redis)", exc_info=True)

    async def start(self) -> None:
        if self._task is not None:
            return
        self._ready.clear()
        self._task = asyncio.create_task(self._listen(), name="dashboard-events")
        # Subscribed before start-up goes on: an event published after this is seen here.
        waiter = asyncio.create_task(self._ready.wait())
        await asyncio.wait({waiter, self._task}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()

    async def stop(self) -> None:
        self.close_all()
        task, self._task = self._task, None
        if task is None:
            return
        # The listener polls a stop flag: redis-py's blocking listen() can swallow a cancel,
        # and a stop must never hold up the shutdown.
        self._stopping = True
        done, _ = await asyncio.wait({task}, timeout=POLL_SECONDS * 4)
        if not done:
            task.cancel()
            await asyncio.wait({task}, timeout=POLL_SECONDS * 2)
        self._stopping = False

    async def _listen(self) -> None:
        while not self._stopping:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                while not self._stopping:
                    message = await pubsub.get_message(timeout=POLL_SECONDS)
                    if message is not None:
                        self._handle(message)
            except (RedisError, OSError):
                if self._stopping:
                    return
                log.warning("dashboard event listener lost Redis; retrying", exc_info=True)
                await asyncio.sleep(self.retry_seconds)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call,unused-ignore]

    def _handle(self, message: Mapping[str, Any]) -> None:
        kind = message.get("type")
        if kind == "subscribe":
            # The server's confirmation: from here on every publish reaches us.
            self._ready.set()
            return
        if kind != "message":
            return
        try:
            event = json.loads(message["data"])
        except (TypeError, ValueError):
            log.warning("dashboard event not JSON; ignored")
            return
        if isinstance(event, dict):
            self.deliver(event)


CountReader = Callable[[], Mapping[str, int]]


class TrafficTicker:
    """Publishes this instance's handled updates (by type) since the previous tick."""

    def __init__(self, bus: EventBus, counts: CountReader, *, every: float, instance: str) -> None:
        self.bus = bus
        self.counts = counts
        self.every = every
        self.instance = instance
        self._last: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def tick(self) -> bool:
        """Publish what changed; True when an event went out."""
        now = dict(self.counts())
        delta = {k: v - self._last.get(k, 0) for k, v in now.items() if v > self._last.get(k, 0)}
        self._last = now
        if not delta:
            return False
        await self.bus.publish(
            {
                "type": "traffic",
                "instance": self.instance,
                "updates": sum(delta.values()),
                "by_type": delta,
                "at": datetime.now(UTC).isoformat(),
            }
        )
        return True

    async def start(self) -> None:
        if self._task is not None:
            return
        self._last = dict(self.counts())  # a restart does not replay the process's history
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name="dashboard-ticker")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            # The flag as well as the cancel: a cancel that lands inside redis-py's publish can
            # be swallowed there (seen in CI: the loop went back to sleep and the stop waited
            # for ever); the loop ends at its next wait either way.
            self._stopping.set()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while not await wait_set(self._stopping, self.every):
            try:
                await self.tick()
            except Exception:  # the ticker must outlive any one failure
                log.exception("dashboard tick failed")
