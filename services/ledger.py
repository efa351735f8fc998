"""Credit balance changes: atomic, never negative, idempotent per (kind, ref).

Every change of `users.credits` goes through `apply_movement`, which writes the movement row and
updates the balance in one savepoint of the caller's transaction. The caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from bot.db.models import CreditMovement, MovementKind, User


class LedgerError(Exception):
    pass


class InsufficientCredits(LedgerError):
    def __init__(self, balance: int, needed: int) -> None:
        super().__init__(f"balance {balance} cannot cover {needed}")
        self.balance = balance
        self.needed = needed


class DuplicateMovement(LedgerError):
    """The same (kind, ref) was applied before; nothing changed."""


class UnknownUser(LedgerError):
    pass


async def apply_movement(
    session: AsyncSession,
    user_id: int,
    delta: int,
    kind: MovementKind,
    ref: str | None = None,
) -> int:
    """Move `delta` credits for `user_id`; return the new balance.

    Raises `InsufficientCredits` when the balance would go below zero and `DuplicateMovement`
    when `(kind, ref)` was already applied; in both cases nothing is written.
    """
    try:
        async with session.begin_nested():
            # The guard in the WHERE clause makes concurrent debits safe without a read lock.
            result = await session.execute(
                update(User)
                .where(User.id == user_id, User.credits + delta >= 0)
                .values(credits=User.credits + delta)
                .returning(User.credits)
            )
            new_balance = result.scalar_one_or_none()
            if new_balance is None:
                current = await session.scalar(select(User.credits).where(User.id == user_id))
                if current is None:
                    raise UnknownUser(str(user_id))
                raise InsufficientCredits(current, -delta)
            # A duplicate (kind, ref) fails here and the savepoint undoes the balance change.
            session.add(CreditMovement(user_id=user_id, delta=delta, kind=kind, ref=ref))
            await session.flush()
    except IntegrityError as exc:
        if ref is not None and "uq_credit_movements_kind_ref" in str(exc.orig):
            raise DuplicateMovement(f"{kind.value}:{ref}") from None
        # SQLite names no constraint in its message; the (kind, ref) pair tells.
        if ref is not None and await _movement_exists(session, kind, ref):
            raise DuplicateMovement(f"{kind.value}:{ref}") from None
        raise
    # Keep a loaded User in step with the row without marking it dirty: a later flush must not
    # write an absolute balance over a concurrent change.
    user = session.identity_map.get(session.identity_key(User, user_id))
    if isinstance(user, User):
        set_committed_value(user, "credits", new_balance)
    return new_balance


async def _movement_exists(session: AsyncSession, kind: MovementKind, ref: str) -> bool:
    found = await session.scalar(
        select(CreditMovement.id).where(CreditMovement.kind == kind, CreditMovement.ref == ref)
    )
    return found is not None


async def balance(session: AsyncSession, user_id: int) -> int:
    value = await session.scalar(select(User.credits).where(User.id == user_id))
    if value is None:
        raise UnknownUser(str(user_id))
    return value


@dataclass(frozen=True, slots=True)
class Mismatch:
    user_id: int
    balance: int
    movements_sum: int


async def reconcile(session: AsyncSession) -> list[Mismatch]:
    """Users whose balance differs from the sum of their movements (empty when all is well)."""
    sums = (
        select(CreditMovement.user_id, func.coalesce(func.sum(CreditMovement.delta), 0).label("s"))
        .group_by(CreditMovement.user_id)
        .subquery()
    )
    rows = await session.execute(
        select(User.id, User.credits, func.coalesce(sums.c.s, 0))
        .outerjoin(sums, sums.c.user_id == User.id)
        .where(User.credits != func.coalesce(sums.c.s, 0))
    )
    return [Mismatch(uid, bal, int(total)) for uid, bal, total in rows.all()]
