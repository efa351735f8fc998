"""The dashboard's traffic ticker stops even when a cancel is swallowed under it (redis-py can
swallow one inside a publish; seen in CI as a shutdown waiting for ever)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Mapping
from typing import Any

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
