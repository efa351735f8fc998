"""The ledger on the test database (PostgreSQL in CI): atomic, never negative, idempotent."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.db.engine import create_sessionmaker
from bot.db.models import CreditMovement, MovementKind
from services import ledger, users


async def _user(session: AsyncSession, user_id: int = 1) -> None:
    await users.get_or_create(session, user_id)
    await session.commit()


async def test_credit_and_debit(session: AsyncSession) -> None:
    await _user(session)
    assert await ledger.apply_movement(session, 1, 100, MovementKind.PURCHASE, "c1") == 100
    assert await ledger.apply_movement(session, 1, -30, MovementKind.USAGE, "r1") == 70
    await session.commit()
    assert await ledger.balance(session, 1) == 70
    assert await ledger.reconcile(session) == []


async def test_a_debit_never_goes_below_zero(session: AsyncSession) -> None:
    await _user(session)
    await ledger.apply_movement(session, 1, 10, MovementKind.GRANT, "g")
    with pytest.raises(ledger.InsufficientCredits) as caught:
        await ledger.apply_movement(session, 1, -11, MovementKind.USAGE, "u")
    assert caught.value.balance == 10
    await session.commit()
    assert await ledger.balance(session, 1) == 10
    # The refused movement left no row behind.
    assert await session.scalar(select(func.count()).select_from(CreditMovement)) == 1


async def test_the_same_reference_moves_credits_once(session: AsyncSession) -> None:
    await _user(session)
    await ledger.apply_movement(session, 1, 50, MovementKind.PURCHASE, "charge-1")
    with pytest.raises(ledger.DuplicateMovement):
        await ledger.apply_movement(session, 1, 50, MovementKind.PURCHASE, "charge-1")
    await session.commit()
    assert await ledger.balance(session, 1) == 50


async def test_unknown_user(session: AsyncSession) -> None:
    with pytest.raises(ledger.LedgerError):
        await ledger.apply_movement(session, 999, -1, MovementKind.USAGE, None)


async def test_concurrent_debits_never_overdraw(pg_url: str, engine: AsyncEngine) -> None:
    maker = create_sessionmaker(engine)
    async with maker() as session:
        await _user(session)
        await ledger.apply_movement(session, 1, 10, MovementKind.GRANT, "g")
        await session.commit()

    async def spend(i: int) -> bool:
        async with maker() as session:
            try:
                await ledger.apply_movement(session, 1, -1, MovementKind.USAGE, f"u{i}")
                await session.commit()
                return True
            except ledger.InsufficientCredits:
                await session.rollback()
                return False

    results = await asyncio.gather(*(spend(i) for i in range(50)))
    assert results.count(True) == 10
    async with maker() as session:
        assert await ledger.balance(session, 1) == 0
        assert await ledger.reconcile(session) == []


async def test_take_up_to_takes_what_the_balance_allows_in_one_movement(
    session: AsyncSession,
) -> None:
    await _user(session)
    await ledger.apply_movement(session, 1, 25, MovementKind.GRANT, "g")
    assert await ledger.take_up_to(session, 1, 5, 10, MovementKind.RESERVE, "r1") == 10
    # Less than `most` left: all of it, as long as it covers `least`.
    assert await ledger.take_up_to(session, 1, 5, 20, MovementKind.RESERVE, "r2") == 15
    with pytest.raises(ledger.InsufficientCredits) as caught:
        await ledger.take_up_to(session, 1, 1, 20, MovementKind.RESERVE, "r3")
    assert caught.value.balance == 0
    await session.commit()
    assert await ledger.balance(session, 1) == 0
    deltas = await session.scalars(
        select(CreditMovement.delta)
        .where(CreditMovement.kind == MovementKind.RESERVE)
        .order_by(CreditMovement.id)
    )
    assert list(deltas) == [-10, -15]  # the refused one wrote nothing
    assert await ledger.reconcile(session) == []
    with pytest.raises(ledger.UnknownUser):
        await ledger.take_up_to(session, 999, 1, 2, MovementKind.RESERVE, "r4")


async def test_concurrent_take_up_to_never_overdraws(engine: AsyncEngine) -> None:
    maker = create_sessionmaker(engine)
    async with maker() as session:
        await _user(session)
        await ledger.apply_movement(session, 1, 100, MovementKind.GRANT, "g")
        await session.commit()

    async def reserve(i: int) -> int:
        async with maker() as session:
            try:
                amount = await ledger.take_up_to(session, 1, 10, 30, MovementKind.RESERVE, f"r{i}")
            except ledger.InsufficientCredits:
                return 0
            await session.commit()
            return amount

    taken = await asyncio.gather(*(reserve(i) for i in range(20)))
    assert sum(taken) == 100
    assert sorted(t for t in taken if t) == [10, 30, 30, 30]
    async with maker() as session:
        assert await ledger.balance(session, 1) == 0
        assert await ledger.reconcile(session) == []
