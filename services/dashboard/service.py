"""The dashboard service handed to the web routes (`bot/deps.py: AppDeps.dashboard`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncSession

from services.dashboard.config import DashboardSettings
from services.dashboard.events import CountReader, EventBus, MemoryBus, RedisBus, TrafficTicker
from services.dashboard.figures import Snapshot, Sources, Window, snapshot


@dataclass
class DashboardService:
    settings: DashboardSettings
    sources: Sources
    bus: EventBus
    ticker: TrafficTicker

    @classmethod
    def build(
        cls,
        settings: DashboardSettings,
        *,
        sources: Sources,
        counts: CountReader,
        redis: Redis | None,
        channel: str,
        instance: str,
    ) -> DashboardService:
        bus: EventBus = RedisBus(redis, channel) if redis is not None else MemoryBus()
        ticker = TrafficTicker(bus, counts, every=settings.tick_seconds, instance=instance)
        return cls(settings=settings, sources=sources, bus=bus, ticker=ticker)

    async def start(self) -> None:
        await self.bus.start()
        await self.ticker.start()

    async def stop(self) -> None:
        await self.ticker.stop()
        await self.bus.stop()

    async def snapshot(self, session: AsyncSession, window: Window, now: datetime) -> Snapshot:
        return await snapshot(
            session, self.sources, window, now, audit_events=self.settings.audit_events
        )
