"""Loops that run beside the work stop even when a cancel is swallowed under them: redis-py can
swallow one inside a call (seen in CI as a shutdown waiting for ever). Each ends on a flag too."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Mapping
from typing import Any

from middlewares.updates import DONE, _Lease
from services.dashboard.events import Subscription, TrafficTicker


class SwallowingBus:
    """Publishes slowly and swallows a cancel that arrives meanwhile, as redis-py may."""

    def __init__(self) -> None:
        self.publishing = asyncio.Event()
        self.published = 0
        self.swallowed = False

    async def publish(self, event: Mapping[str, Any]) -> None:
        self.publishing.set()
        try:
            await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            if self.swallowed:
                raise
            self.swallowed = True  # once: later cancels (the test's teardown) go through
        self.published += 1

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[Subscription]:
        raise NotImplementedError
        yield

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


async def test_the_ticker_stops_though_its_cancel_is_swallowed_in_a_publish() -> None:
    bus = SwallowingBus()
    counter = itertools.count(1)
    ticker = TrafficTicker(bus, lambda: {"message": next(counter)}, every=0.001, instance="t")
    await ticker.start()
    await bus.publishing.wait()
    stopping = asyncio.create_task(ticker.stop())
    # Bounded only so that a regression fails instead of hanging the suite.
    done, _ = await asyncio.wait({stopping}, timeout=30)
    assert done, "the ticker did not stop: its loop went on after the swallowed cancel"
    assert bus.swallowed


class SwallowingState:
    """A key-value store whose first write swallows a cancel that arrives meanwhile."""

    def __init__(self) -> None:
        self.writing = asyncio.Event()
        self.swallowed = False
        self.values: dict[str, str] = {}

    async def put(self, key: str, value: str, ttl: float) -> None:
        self.writing.set()
        try:
            await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            if self.swallowed:
                raise
            self.swallowed = True
        self.values[key] = value


async def test_an_update_lease_settles_though_its_renewal_swallowed_the_cancel() -> None:
    state = SwallowingState()
    lease = _Lease(state, "update:1", 0.003)  # type: ignore[arg-type]
    await state.writing.wait()
    settling = asyncio.create_task(lease.settle(done=True))
    done, _ = await asyncio.wait({settling}, timeout=30)
    assert done, "the lease did not settle: its renewal went on after the swallowed cancel"
    assert state.swallowed
    assert state.values["update:1"] == DONE
