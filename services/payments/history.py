"""Read-only views of payments: the user's recent ones (/paysupport) and the admin panel's list."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.base import utcnow
from bot.db.models.payments import Payment, PaymentStatus


async def user_refundable(
    session: AsyncSession, user_id: int, *, days: int, limit: int
) -> list[Payment]:
    """The user's payments of the last `days` days that are not refunded, newest first."""
    since = utcnow() - timedelta(days=days)
    rows = await session.scalars(
        select(Payment)
        .where(
            Payment.user_id == user_id,
            Payment.status == PaymentStatus.PAID,
            Payment.created_at >= since,
        )
        .order_by(Payment.created_at.desc(), Payment.id.desc())
        .limit(limit)
    )
    return list(rows)


async def recent_payments(
    session: AsyncSession,
    *,
    limit: int = 20,
    offset: int = 0,
    user_id: int | None = None,
    refund_requested: bool = False,
) -> list[Payment]:
    """For the admin panel: newest first; `refund_requested=True` lists the unsettled requests."""
    query = select(Payment).order_by(Payment.created_at.desc(), Payment.id.desc())
    if user_id is not None:
        query = query.where(Payment.user_id == user_id)
    if refund_requested:
        query = query.where(
            Payment.refund_requested_at.is_not(None), Payment.status == PaymentStatus.PAID
        )
    rows = await session.scalars(query.limit(limit).offset(offset))
    return list(rows)


async def by_charge_id(session: AsyncSession, charge_id: str) -> Payment | None:
    return await session.scalar(select(Payment).where(Payment.charge_id == charge_id))
