"""Users: registration, language, last seen."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Protocol

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


class Auditor(Protocol):
    """Writes an Audit-topic record in the caller's transaction (`LogServerService.audit`)."""

    async def audit(self, session: AsyncSession, user_id: int, event: str, **fields: Any) -> Any:
        """Queue the record; it exists once the caller commits."""
        ...


async def set_locale(
    session: AsyncSession, user: User, locale: str, *, audit: Auditor | None = None
) -> None:
    """Store the user's language (with its Audit record when `audit` is given), committed on
    return: the next message must already find it."""
    user.locale = locale
    if audit is not None:
        await audit.audit(session, user.id, "language-changed", locale=locale)
    await session.commit()


async def by_id(session: AsyncSession, user_id: int) -> User | None:
    return await session.scalar(select(User).where(User.id == user_id))
