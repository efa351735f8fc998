"""The log group's "purge my central data now" deletes temporary rows, never the kept ones."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.base import utcnow
from bot.db.engine import create_sessionmaker
from bot.db.models.ai import AIAllowance, AITurn
from bot.settings import Settings
from bot.state import MemoryState
from services import users
from services.crypto.service import CryptoService
from services.logserver.service import LogServerService


async def test_purge_now_keeps_the_daily_allowance(
    engine: AsyncEngine, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings()
    maker = create_sessionmaker(engine)
    later = utcnow() + timedelta(hours=12)
    async with maker() as session:
        await users.get_or_create(session, 7)
        await users.get_or_create(session, 8)
        session.add(AIAllowance(user_id=7, day=utcnow().date(), used=40, expires_at=later))
        for user_id in (7, 8):
            session.add(
                AITurn(
                    user_id=user_id,
                    scope="private",
                    exchange=f"x{user_id}",
                    role="user",
                    content="ciphertext",
                    tokens=3,
                    expires_at=later,
                )
            )
        await session.commit()

    service = LogServerService(
        maker, CryptoService.build(settings.crypto), MemoryState(), settings.logserver
    )
    async with maker() as session:
        deleted = await service.purge_user_data(session, 7)
        await session.commit()
        assert deleted == 1
        turns = await session.scalar(
            select(func.count()).select_from(AITurn).where(AITurn.user_id == 7)
        )
        assert turns == 0
        # Someone else's context is untouched; the allowance survives, so it cannot be reset.
        assert await session.scalar(select(func.count()).select_from(AITurn)) == 1
        allowance = await session.scalar(select(AIAllowance.used).where(AIAllowance.user_id == 7))
        assert allowance == 40
