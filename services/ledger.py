"""Credit balance changes: atomic, never negative, idempotent per (kind, ref).

Every change of `users.credits` goes through `apply_movement`, which writes the movement row and
updates the balance in one savepoint of the caller's transaction. The caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from bot.db.base import utcnow
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


# One statement: lock the row, debit what the balance allows (at most `most`, at least `least`)
# and write the movement. The CTEs share one snapshot; `old` reads the row under its lock.
_TAKE_UP_TO = text(
    """
    WITH old AS (
        SELECT id, credits FROM users WHERE id = CAST(:user_id AS BIGINT) FOR UPDATE
    ), taken AS (
        UPDATE users SET credits = users.credits - LEAST(CAST(:most AS BIGINT), old.credits)
        FROM old
        WHERE users.id = old.id AND old.credits >= CAST(:least AS BIGINT)
        RETURNING old.id AS user_id, LEAST(CAST(:most AS BIGINT), old.credits) AS amount
    ), moved AS (
        INSERT INTO credit_movements (user_id, delta, kind, ref, created_at)
        SELECT taken.user_id, -taken.amount, CAST(:kind AS VARCHAR), CAST(:ref AS VARCHAR),
            CAST(:now AS TIMESTAMPTZ)
        FROM taken
        RETURNING delta
    )
    SELECT old.credits, (SELECT -delta FROM moved) FROM old
    """
)


async def take_up_to(
    session: AsyncSession, user_id: int, least: int, most: int, kind: MovementKind, ref: str
) -> int:
    """Debit as much of `most` as the balance allows, if it allows at least `least`; return the
    amount taken. Raises `InsufficientCredits` when the balance is below `least` (nothing is
    written) and `UnknownUser`.

    On PostgreSQL this is one statement (one round trip, the row locked only while it runs), for
    hot paths such as an AI reply's reservation. A duplicate `(kind, ref)` fails the statement
    and with it the caller's transaction, so `ref` must be new (a reservation's own id).
    Elsewhere (SQLite, whose transactions are serialised anyway) it is `apply_movement`.
    """
    if session.get_bind().dialect.name != "postgresql":
        while True:
            current = await balance(session, user_id)
            if current < least:
                raise InsufficientCredits(current, least)
            amount = min(most, current)
            try:
                await apply_movement(session, user_id, -amount, kind, ref)
            except InsufficientCredits:
                continue  # the balance moved under us: look again
            return amount
    row = (
        await session.execute(
            _TAKE_UP_TO,
            {
                "user_id": user_id,
                "least": least,
                "most": most,
                "kind": kind.value,
                "ref": ref,
                "now": utcnow(),
            },
        )
    ).one_or_none()
    if row is None:
        raise UnknownUser(str(user_id))
    current, amount = row
    if amount is None:
        raise InsufficientCredits(current, least)
    user = session.identity_map.get(session.identity_key(User, user_id))
    if isinstance(user, User):
        set_committed_value(user, "credits", current - amount)
    return int(amount)


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
