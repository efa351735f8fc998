"""Users: registration, language, last seen."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.base import utcnow
from bot.db.models import User, UserStatus


async def get_or_create(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is not None:
        return user
    # Two first updates from a new user may race; the loser's insert is a no-op.
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    now = utcnow()
    await session.execute(
        insert(User)
        .values(id=user_id, created_at=now, last_seen_at=now)
        .on_conflict_do_nothing(index_elements=[User.id])
    )
    user = await session.get(User, user_id)
    assert user is not None
    return user


async def touch(session: AsyncSession, user: User, resolution: timedelta) -> None:
    now = utcnow()
    if now - user.last_seen_at >= resolution:
        user.last_seen_at = now
    if user.status is UserStatus.BLOCKED_BOT:
        # Writing to the bot again means they unblocked it.
        user.status = UserStatus.ACTIVE


async def set_locale(session: AsyncSession, user: User, locale: str) -> None:
    user.locale = locale
    await session.flush()


async def by_id(session: AsyncSession, user_id: int) -> User | None:
    return await session.scalar(select(User).where(User.id == user_id))
