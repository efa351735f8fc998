"""The admin panel's payment ports (`services/admin/ports.py:AdminPorts`), filled from here.

`attach(ports, stars=bot, billing=...)` in `bot/app.py` sets `recent_payments`, `refund` and
`revenue_by_day`; the panel's refund button then runs `refunds.refund` with the admin policy.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models.payments import Payment, PaymentStatus, RefundSource
from services.admin.ports import AdminPorts, PaymentRow, RefundRefused
from services.payments import history, refunds
from services.payments.errors import RefundRefused as PaymentRefundRefused
from services.payments.ports import BillingLog, StarsPort


def _row(payment: Payment) -> PaymentRow:
    return PaymentRow(
        id=payment.id,
        user_id=payment.user_id,
        stars=payment.stars,
        created_at=payment.created_at,
        refunded=payment.status is PaymentStatus.REFUNDED,
    )


async def recent_payments(session: AsyncSession, offset: int, limit: int) -> Sequence[PaymentRow]:
    return [_row(p) for p in await history.recent_payments(session, limit=limit, offset=offset)]


async def revenue_by_day(session: AsyncSession, since: date) -> dict[date, int]:
    """Stars received per UTC day (refunded payments excluded)."""
    start = datetime.combine(since, time(), tzinfo=UTC)
    rows = await session.execute(
        select(Payment.created_at, Payment.stars).where(
            Payment.created_at >= start, Payment.status == PaymentStatus.PAID
        )
    )
    totals: dict[date, int] = {}
    for created_at, stars in rows.all():
        day = created_at.astimezone(UTC).date()
        totals[day] = totals.get(day, 0) + stars
    return totals


def attach(ports: AdminPorts, *, stars: StarsPort, billing: BillingLog | None = None) -> None:
    async def refund(session: AsyncSession, payment_id: int) -> PaymentRow:
        payment = await session.get(Payment, payment_id)
        if payment is None:
            raise RefundRefused("not-found")
        try:
            await refunds.refund(
                session, stars, payment.charge_id, RefundSource.ADMIN, billing=billing
            )
        except PaymentRefundRefused as exc:
            raise RefundRefused(exc.reason.value) from None
        await session.refresh(payment)
        return _row(payment)

    ports.recent_payments = recent_payments
    ports.refund = refund
    ports.revenue_by_day = revenue_by_day
