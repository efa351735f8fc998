"""The admin panel's payment ports (`services/admin/ports.py:AdminPorts`), filled from here.

`attach(ports, stars=bot, billing=...)` in `bot/app.py` sets `recent_payments`, `refund`,
`attention` (what needs a person) and `revenue_by_day`; the panel's refund button then runs
`refunds.refund` with the admin policy.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models.payments import ChargeSource, Payment, PaymentStatus, RefundSource
from services.admin.ports import (
    AdminPorts,
    AttentionReason,
    AttentionRow,
    PaymentRow,
    RefundRefused,
)
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
        credits=payment.credits,
        credits_reversed=payment.credits_reversed,
    )


def _reason(payment: Payment) -> AttentionReason:
    if payment.status is PaymentStatus.PAID and payment.refund_requested_at is not None:
        return AttentionReason.REFUND_REQUESTED
    if payment.status is PaymentStatus.PAID and payment.flag is not None:
        return AttentionReason.FLAGGED
    if payment.status is PaymentStatus.PAID and payment.credited_at is None:
        return AttentionReason.CREDIT_PENDING
    return AttentionReason.RECONCILED


async def attention(session: AsyncSession, limit: int) -> Sequence[AttentionRow]:
    """Refund requests left for an operator, charges recorded but not credited (flagged or
    pending), and charges credited by reconciliation; newest first."""
    paid = Payment.status == PaymentStatus.PAID
    rows = await session.scalars(
        select(Payment)
        .where(
            or_(
                and_(paid, Payment.refund_requested_at.is_not(None)),
                and_(paid, Payment.credited_at.is_(None)),
                Payment.source == ChargeSource.RECONCILE,
            )
        )
        .order_by(Payment.created_at.desc(), Payment.id.desc())
        .limit(limit)
    )
    return [
        AttentionRow(
            id=p.id,
            user_id=p.user_id,
            stars=p.stars,
            created_at=p.created_at,
            reason=_reason(p),
            detail=p.flag.value if p.flag is not None else "",
            refundable=p.status is PaymentStatus.PAID,
        )
        for p in rows
    ]


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
    ports.attention = attention
    ports.revenue_by_day = revenue_by_day
