"""The 24 hour limit: undelivered ciphertext older than `max_age_seconds` is dropped, and its
users are told how many records they lost (counted in `lost_untold` until they are told)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.base import utcnow
from bot.db.models.logserver import LogServer, OutboxRecord
from services.logserver.config import LogServerSettings

log = logging.getLogger(__name__)


class Expiry:
    """Part of `LogServerService` (needs `sessionmaker` and `settings`)."""

    sessionmaker: async_sessionmaker[AsyncSession]
    settings: LogServerSettings

    async def drop_expired(self, now: datetime | None = None) -> dict[int, int]:
        """Delete ciphertext older than `max_age_seconds`; returns records dropped per user.

        The counts are added to `lost_untold` so the user is told even if telling fails now.
        """
        cutoff = (now or utcnow()) - timedelta(seconds=self.settings.max_age_seconds)
        async with self.sessionmaker() as session:
            rows = (
                await session.execute(
                    select(OutboxRecord.user_id, func.count())
                    .where(OutboxRecord.created_at < cutoff)
                    .group_by(OutboxRecord.user_id)
                )
            ).all()
            counts = {int(uid): int(n) for uid, n in rows}
            if not counts:
                return {}
            await session.execute(delete(OutboxRecord).where(OutboxRecord.created_at < cutoff))
            for user_id, n in counts.items():
                await session.execute(
                    update(LogServer)
                    .where(LogServer.user_id == user_id)
                    .values(lost_untold=LogServer.lost_untold + n)
                )
            await session.commit()
        log.warning("dropped undelivered records of %d log servers after 24 h", len(counts))
        return counts

    async def lost_counts(self) -> dict[int, int]:
        """Users with dropped records they have not been told about yet, and how many."""
        async with self.sessionmaker() as session:
            rows = (
                await session.execute(
                    select(LogServer.user_id, LogServer.lost_untold).where(
                        LogServer.lost_untold > 0
                    )
                )
            ).all()
        return {int(uid): int(n) for uid, n in rows}

    async def told_lost(self, user_id: int, count: int) -> None:
        async with self.sessionmaker() as session:
            await session.execute(
                update(LogServer)
                .where(LogServer.user_id == user_id)
                .values(lost_untold=LogServer.lost_untold - count)
            )
            await session.commit()
