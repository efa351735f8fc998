"""Scheduled AI jobs (registered with the scheduler in ``bot/app.py``)."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.ai.config import AISettings
from services.ai.metering import Meter

log = logging.getLogger(__name__)


async def release_stale(sessionmaker: async_sessionmaker[AsyncSession], ai: AISettings) -> int:
    """Give back credits reserved by replies that never settled (a process died mid-reply)."""
    released = await Meter(sessionmaker, ai).release_stale()
    if released:
        log.warning("released %d stale AI reservations", released)
    return released
