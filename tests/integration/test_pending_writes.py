"""What `has_pending_writes` counts (bot/db/transactions.py): the unit-of-work guard is only as
good as this. A savepoint rolled back undoes its own writes, not those around it."""

from __future__ import annotations

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import User
from bot.db.transactions import has_pending_writes


async def _user(session: AsyncSession) -> User:
    session.add(User(id=1))
    await session.commit()
    user = await session.get(User, 1)
    assert user is not None
    return user


async def test_reads_are_not_writes_and_commit_or_rollback_clears(session: AsyncSession) -> None:
    user = await _user(session)
    assert not has_pending_writes(session)
    await session.scalar(select(User.locale).where(User.id == 1))
    await session.execute(text("SELECT 1"))
    assert not has_pending_writes(session)
    user.locale = "ja"  # not flushed yet
    assert has_pending_writes(session)
    await session.flush()  # flushed, not committed
    assert has_pending_writes(session)
    await session.commit()
    assert not has_pending_writes(session)
    await session.execute(update(User).where(User.id == 1).values(locale="en"))
    assert has_pending_writes(session)
    await session.rollback()
    assert not has_pending_writes(session)
    await session.execute(text("UPDATE users SET locale = 'en' WHERE id = 1"))
    assert has_pending_writes(session)
    await session.rollback()
    session.add(User(id=2))
    assert has_pending_writes(session)


async def test_a_savepoint_rolled_back_undoes_only_its_own_writes(session: AsyncSession) -> None:
    user = await _user(session)
    savepoint = await session.begin_nested()
    user.locale = "ja"
    await session.flush()
    assert has_pending_writes(session)
    await savepoint.rollback()
    assert not has_pending_writes(session)
    async with session.begin_nested():
        user.locale = "en"
        await session.flush()
    assert has_pending_writes(session)  # released into the transaction, still uncommitted
    savepoint = await session.begin_nested()
    await session.scalar(select(User.locale).where(User.id == 1))
    await savepoint.rollback()
    assert has_pending_writes(session)  # the writes before the savepoint are still there
    await session.commit()
    assert not has_pending_writes(session)
