"""Refunds: by an admin, on the user's own request, and as Telegram reports them.

Policy (docs/payments.md, /terms):
- Stars go back in full: Telegram has no partial refunds, and `refundStarPayment` is called at
  most once per charge (the payment row is claimed first; a second attempt finds it refunded).
- The payment's credits are taken back, but never more than the balance (it never goes below
  zero). An admin refund proceeds and reports the shortfall; a user's own request is granted
  automatically only within `auto_refund_hours` of the payment when none of its credits were used
  (no usage since, balance still covers them), and is otherwise refused with the reason and left
  flagged for an admin (`refund_requested_at`).
- A `refunded_payment` message (a refund made anywhere, including by Telegram's support) reverses
  the credits once, by the same rule; one for a refund we already recorded changes nothing.
Each of `refund`, `request_refund` and `record_telegram_refund` commits what it changed before
it returns (or raises), so the caller may tell the user at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import NoReturn

from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.base import utcnow
from bot.db.models import CreditMovement, MovementKind
from bot.db.models.payments import (
    Payment,
    PaymentKind,
    PaymentStatus,
    RefundSource,
    StarSubscription,
    SubscriptionState,
)
from bot.db.transactions import calling_inside_transaction
from services import ledger
from services.payments.config import PaymentsSettings
from services.payments.errors import RefundRefusal, RefundRefused
from services.payments.ports import BillingEvent, BillingLog, StarsPort
from services.payments.purchases import record_billing

log = logging.getLogger(__name__)

# Movements that spend credits: a payment followed by any of them is no longer "unused".
SPENDING = (MovementKind.USAGE, MovementKind.DEDUCT)


@dataclass(frozen=True, slots=True)
class RefundOutcome:
    payment_id: int
    charge_id: str
    user_id: int
    stars: int
    credits: int
    credits_reversed: int
    balance: int
    source: RefundSource
    changed: bool  # False: it had been recorded before, nothing was done now

    @property
    def shortfall(self) -> int:
        """Credits of the payment that could not be taken back (already spent)."""
        return self.credits - self.credits_reversed


async def refund(
    session: AsyncSession,
    stars: StarsPort,
    charge_id: str,
    actor: RefundSource = RefundSource.ADMIN,
    *,
    billing: BillingLog | None = None,
) -> RefundOutcome:
    """Refund one payment in full (Stars) and reverse its credits up to the balance.

    For the admin panel's refund button. Raises `RefundRefused` with `NOT_FOUND`,
    `ALREADY_REFUNDED` or `TELEGRAM_REFUSED`; then nothing has changed.
    """
    async with session.begin_nested():
        payment = await _claim(session, charge_id, actor)
        reversed_credits, balance = await _reverse_credits(session, payment)
        try:
            with calling_inside_transaction("the claim is held until Telegram answers"):
                await stars.refund_star_payment(
                    user_id=payment.user_id, telegram_payment_charge_id=payment.charge_id
                )
        except TelegramBadRequest as exc:
            if "CHARGE_ALREADY_REFUNDED" not in exc.message.upper():
                log.warning("refund of payment %s refused by Telegram: %s", payment.id, exc)
                raise RefundRefused(RefundRefusal.TELEGRAM_REFUSED, exc.message) from None
            # Refunded elsewhere already: our records follow Telegram's.
            log.info("payment %s was already refunded at Telegram", payment.id)
        except TelegramAPIError as exc:
            log.warning("refund of payment %s failed: %s", payment.id, exc)
            raise RefundRefused(RefundRefusal.TELEGRAM_REFUSED, str(exc)) from None
        ended = await _end_subscription_period(session, payment)
    outcome = await _done(session, payment, reversed_credits, balance, actor, billing)
    await session.commit()
    if ended is not None:
        await _stop_renewal(stars, payment.user_id, ended)  # best effort, after the commit
    return outcome


async def request_refund(
    session: AsyncSession,
    stars: StarsPort,
    settings: PaymentsSettings,
    *,
    payment_id: int,
    user_id: int,
    billing: BillingLog | None = None,
) -> RefundOutcome:
    """A user's own request from /paysupport; see the policy above.

    Raises `RefundRefused`: `NOT_FOUND` (not theirs), `ALREADY_REFUNDED`, `MANUAL_ONLY`,
    `WINDOW_PASSED`, `CREDITS_USED` (these three leave the payment flagged for an admin),
    `TELEGRAM_REFUSED`.
    """
    payment = await session.get(Payment, payment_id)
    if payment is None or payment.user_id != user_id:
        raise RefundRefused(RefundRefusal.NOT_FOUND)
    if payment.status is PaymentStatus.REFUNDED:
        raise RefundRefused(RefundRefusal.ALREADY_REFUNDED)
    if settings.auto_refund_hours == 0:
        await _flag(session, payment, RefundRefusal.MANUAL_ONLY)
    if utcnow() - payment.created_at > timedelta(hours=settings.auto_refund_hours):
        await _flag(session, payment, RefundRefusal.WINDOW_PASSED)
    if await _credits_used(session, payment):
        await _flag(session, payment, RefundRefusal.CREDITS_USED)
    return await refund(session, stars, payment.charge_id, RefundSource.USER, billing=billing)


async def record_telegram_refund(
    session: AsyncSession,
    *,
    user_id: int,
    charge_id: str,
    billing: BillingLog | None = None,
) -> RefundOutcome | None:
    """Keep the ledger true when a `refunded_payment` message arrives (committed on return).

    None when the charge is unknown (reconciliation reports it); an outcome with
    `changed=False` when the refund was recorded before.
    """
    outcome = await _follow_telegram_refund(
        session, user_id=user_id, charge_id=charge_id, billing=billing
    )
    await session.commit()
    return outcome


async def _follow_telegram_refund(
    session: AsyncSession, *, user_id: int, charge_id: str, billing: BillingLog | None
) -> RefundOutcome | None:
    payment = await session.scalar(select(Payment).where(Payment.charge_id == charge_id))
    if payment is None or payment.user_id != user_id:
        log.warning("refunded_payment for an unknown charge (user %s)", user_id)
        return None
    if payment.status is PaymentStatus.REFUNDED:
        return RefundOutcome(
            payment_id=payment.id,
            charge_id=payment.charge_id,
            user_id=payment.user_id,
            stars=payment.stars,
            credits=payment.credits,
            credits_reversed=payment.credits_reversed,
            balance=await ledger.balance(session, payment.user_id),
            source=payment.refund_source or RefundSource.TELEGRAM,
            changed=False,
        )
    async with session.begin_nested():
        try:
            payment = await _claim(session, charge_id, RefundSource.TELEGRAM)
        except RefundRefused:
            # Claimed concurrently by an admin or user refund: that path records it.
            return None
        reversed_credits, balance = await _reverse_credits(session, payment)
        await _end_subscription_period(session, payment)
    return await _done(session, payment, reversed_credits, balance, RefundSource.TELEGRAM, billing)


# -- steps ------------------------------------------------------------------------------------


async def _claim(session: AsyncSession, charge_id: str, actor: RefundSource) -> Payment:
    """Mark the payment refunded, atomically: of two concurrent refunds only one gets here."""
    claimed = await session.scalar(
        update(Payment)
        .where(Payment.charge_id == charge_id, Payment.status == PaymentStatus.PAID)
        .values(status=PaymentStatus.REFUNDED, refund_source=actor, refunded_at=utcnow())
        .returning(Payment.id)
    )
    if claimed is None:
        exists = await session.scalar(select(Payment.id).where(Payment.charge_id == charge_id))
        reason = RefundRefusal.NOT_FOUND if exists is None else RefundRefusal.ALREADY_REFUNDED
        raise RefundRefused(reason)
    payment = await session.scalar(
        select(Payment).where(Payment.id == claimed).execution_options(populate_existing=True)
    )
    assert payment is not None
    return payment


async def _reverse_credits(session: AsyncSession, payment: Payment) -> tuple[int, int]:
    """Take back the payment's credits, at most the balance; return (taken, new balance)."""
    balance = await ledger.balance(session, payment.user_id)
    if payment.credited_at is None:
        # Recorded, never credited (flagged, or its credit still pending): nothing to take back,
        # and the claim (status refunded) stops the credit from ever being applied.
        payment.credits_reversed = 0
        await session.flush()
        return 0, balance
    for _ in range(5):
        amount = min(payment.credits, balance)
        if amount <= 0:
            break
        try:
            balance = await ledger.apply_movement(
                session, payment.user_id, -amount, MovementKind.REFUND, ref=payment.charge_id
            )
        except ledger.InsufficientCredits as exc:
            balance = exc.balance  # spent meanwhile: take what is left
            continue
        except ledger.DuplicateMovement:
            # Reversed before (an interrupted earlier attempt): count what that took.
            amount = -int(
                await session.scalar(
                    select(CreditMovement.delta).where(
                        CreditMovement.kind == MovementKind.REFUND,
                        CreditMovement.ref == payment.charge_id,
                    )
                )
                or 0
            )
            balance = await ledger.balance(session, payment.user_id)
        payment.credits_reversed = amount
        await session.flush()
        return amount, balance
    payment.credits_reversed = 0
    await session.flush()
    return 0, balance


async def _end_subscription_period(session: AsyncSession, payment: Payment) -> str | None:
    """A refunded current period ends now and the subscription does not renew; returns the
    subscription's charge id when that happened (its renewal is then stopped at Telegram)."""
    if payment.kind is PaymentKind.PACK or payment.subscription_expires_at is None:
        return None
    sub = await session.scalar(
        select(StarSubscription).where(
            StarSubscription.user_id == payment.user_id,
            StarSubscription.plan_id == payment.item_id,
        )
    )
    if sub is None or sub.expires_at > payment.subscription_expires_at:
        return None  # an earlier period: the current one stays paid
    sub.expires_at = utcnow()
    sub.state = SubscriptionState.CANCELED
    await session.flush()
    return sub.charge_id


async def _stop_renewal(stars: StarsPort, user_id: int, subscription_charge_id: str) -> None:
    """Best effort: a refunded subscription must not charge again. Telegram may already have
    ended it (then it refuses, which is fine)."""
    try:
        await stars.edit_user_star_subscription(
            user_id=user_id, telegram_payment_charge_id=subscription_charge_id, is_canceled=True
        )
    except TelegramAPIError as exc:
        log.info("renewal of refunded subscription (user %s) not changed: %s", user_id, exc)


async def _credits_used(session: AsyncSession, payment: Payment) -> bool:
    if await ledger.balance(session, payment.user_id) < payment.credits:
        return True
    spent = await session.scalar(
        select(CreditMovement.id)
        .where(
            CreditMovement.user_id == payment.user_id,
            CreditMovement.kind.in_(SPENDING),
            CreditMovement.created_at >= payment.created_at,
        )
        .limit(1)
    )
    return spent is not None


async def _flag(session: AsyncSession, payment: Payment, reason: RefundRefusal) -> NoReturn:
    """Refuse, leaving the request flagged for an admin (committed: it outlives the refusal)."""
    if payment.refund_requested_at is None:
        payment.refund_requested_at = utcnow()
        await session.commit()
    raise RefundRefused(reason)


async def _done(
    session: AsyncSession,
    payment: Payment,
    reversed_credits: int,
    balance: int,
    source: RefundSource,
    billing: BillingLog | None,
) -> RefundOutcome:
    log.info(
        "payment %s refunded (%s): %s of %s credits reversed",
        payment.id,
        source,
        reversed_credits,
        payment.credits,
    )
    await record_billing(
        session,
        billing,
        payment.user_id,
        BillingEvent.REFUND,
        {
            "charge_id": payment.charge_id,
            "kind": payment.kind.value,
            "item": payment.item_id,
            "stars": payment.stars,
            "credits": payment.credits,
            "credits_reversed": reversed_credits,
            "balance": balance,
            "source": source.value,
        },
    )
    return RefundOutcome(
        payment_id=payment.id,
        charge_id=payment.charge_id,
        user_id=payment.user_id,
        stars=payment.stars,
        credits=payment.credits,
        credits_reversed=reversed_credits,
        balance=balance,
        source=source,
        changed=True,
    )
