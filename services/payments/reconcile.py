"""Reconciliation: balances against movements, payments against movements, and our payments
against Telegram's own record (`getStarTransactions`). An empty report means all agree."""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, timedelta

from aiogram.types import StarTransaction, TransactionPartnerUser
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.base import CHARGE_ID_LENGTH, utcnow
from bot.db.models import CreditMovement, MovementKind
from bot.db.models.payments import ChargeSource, Payment, PaymentKind, PaymentStatus
from services import ledger
from services.payments import purchases
from services.payments.catalogue import Catalogue, PayloadError, decode_payload
from services.payments.ports import BillingLog, StarsPort
from services.payments.purchases import Receipt

log = logging.getLogger(__name__)

PAGE = 100
_CREDIT_KIND = {
    PaymentKind.PACK: MovementKind.PURCHASE,
    PaymentKind.SUBSCRIPTION: MovementKind.PURCHASE,
    PaymentKind.RENEWAL: MovementKind.RENEWAL,
}


class IssueKind(enum.StrEnum):
    BALANCE = "balance"  # users.credits != sum of movements
    CREDIT_MISSING = "credit-missing"  # a payment without its credit movement
    CREDIT_WRONG = "credit-wrong"  # the movement's amount differs from the payment's credits
    REVERSAL_WRONG = "reversal-wrong"  # refund movement absent, unexpected or of another amount
    ORPHAN_MOVEMENT = "orphan-movement"  # purchase/renewal/refund movement without a payment
    UNKNOWN_AT_US = "unknown-at-us"  # Telegram has a payment we never recorded
    UNKNOWN_AT_TELEGRAM = "unknown-at-telegram"  # we recorded a payment Telegram does not list
    AMOUNT_MISMATCH = "amount-mismatch"  # Stars differ between us and Telegram
    REFUND_UNRECORDED = "refund-unrecorded"  # Telegram refunded, our payment still paid
    REFUND_MISSING = "refund-missing"  # we marked refunded, Telegram shows no refund
    FLAGGED = "flagged"  # recorded, not credited: it did not match the catalogue (an operator)


@dataclass(frozen=True, slots=True)
class Issue:
    kind: IssueKind
    ref: str  # a charge id or a user id; never anything about the person
    detail: str = ""


@dataclass
class Report:
    issues: list[Issue] = field(default_factory=list)
    payments_checked: int = 0
    transactions_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.issues


async def reconcile(
    session: AsyncSession, stars: StarsPort | None = None, *, max_transactions: int = 100_000
) -> Report:
    """Check the ledger, and with `stars` also Telegram's transactions (read page by page)."""
    report = Report()
    for mismatch in await ledger.reconcile(session):
        report.issues.append(
            Issue(
                IssueKind.BALANCE,
                str(mismatch.user_id),
                f"balance {mismatch.balance} != movements {mismatch.movements_sum}",
            )
        )
    payments = list(await session.scalars(select(Payment)))
    report.payments_checked = len(payments)
    movements = await session.execute(
        select(CreditMovement.kind, CreditMovement.ref, CreditMovement.delta).where(
            CreditMovement.kind.in_(
                (MovementKind.PURCHASE, MovementKind.RENEWAL, MovementKind.REFUND)
            ),
            CreditMovement.ref.is_not(None),
        )
    )
    by_key: dict[tuple[MovementKind, str], int] = {
        (kind, ref): delta for kind, ref, delta in movements.all() if ref is not None
    }
    report.issues.extend(_check_payments(payments, by_key))
    if stars is not None:
        transactions = await _all_transactions(stars, max_transactions)
        report.transactions_checked = len(transactions)
        report.issues.extend(_check_telegram(payments, transactions))
    return report


def _check_payments(
    payments: Iterable[Payment], movements: dict[tuple[MovementKind, str], int]
) -> list[Issue]:
    issues: list[Issue] = []
    seen: set[tuple[MovementKind, str]] = set()
    for p in payments:
        credit_key = (_CREDIT_KIND[p.kind], p.charge_id)
        delta = movements.get(credit_key)
        if p.credited_at is None and delta is None:
            # Recorded, not (yet) credited: `settle` credits it, or an operator settles a flag.
            if p.status is PaymentStatus.PAID:
                kind = IssueKind.FLAGGED if p.flag is not None else IssueKind.CREDIT_MISSING
                issues.append(Issue(kind, p.charge_id, p.flag.value if p.flag else ""))
        else:
            seen.add(credit_key)
        if delta is None:
            if p.credited_at is not None:
                issues.append(Issue(IssueKind.CREDIT_MISSING, p.charge_id))
        elif delta != p.credits:
            issues.append(Issue(IssueKind.CREDIT_WRONG, p.charge_id, f"{delta} != {p.credits}"))
        refund_key = (MovementKind.REFUND, p.charge_id)
        seen.add(refund_key)
        reversed_ = -movements.get(refund_key, 0)
        expected = p.credits_reversed if p.status is PaymentStatus.REFUNDED else 0
        if reversed_ != expected:
            issues.append(
                Issue(IssueKind.REVERSAL_WRONG, p.charge_id, f"{reversed_} != {expected}")
            )
    for key in movements.keys() - seen:
        issues.append(Issue(IssueKind.ORPHAN_MOVEMENT, key[1], key[0].value))
    return issues


async def _all_transactions(stars: StarsPort, limit: int) -> list[StarTransaction]:
    found: list[StarTransaction] = []
    while len(found) < limit:
        page = await stars.get_star_transactions(offset=len(found), limit=PAGE)
        found.extend(page.transactions)
        if len(page.transactions) < PAGE:
            break
    return found


def _check_telegram(payments: list[Payment], transactions: list[StarTransaction]) -> list[Issue]:
    issues: list[Issue] = []
    incoming: dict[str, StarTransaction] = {}
    refunded: set[str] = set()
    for tx in transactions:
        if isinstance(tx.source, TransactionPartnerUser) and (
            tx.source.transaction_type == "invoice_payment"
        ):
            incoming[tx.id] = tx
        elif isinstance(tx.receiver, TransactionPartnerUser):
            # A refund keeps the id of the payment it returns.
            refunded.add(tx.id)
    ours = {p.charge_id: p for p in payments}
    for charge_id, tx in incoming.items():
        payment = ours.get(charge_id)
        if payment is None:
            issues.append(Issue(IssueKind.UNKNOWN_AT_US, charge_id, f"{tx.amount} Stars"))
        elif payment.stars != tx.amount:
            issues.append(
                Issue(IssueKind.AMOUNT_MISMATCH, charge_id, f"{payment.stars} != {tx.amount}")
            )
    for charge_id, payment in ours.items():
        if charge_id not in incoming:
            issues.append(Issue(IssueKind.UNKNOWN_AT_TELEGRAM, charge_id))
        if charge_id in refunded and payment.status is not PaymentStatus.REFUNDED:
            issues.append(Issue(IssueKind.REFUND_UNRECORDED, charge_id))
        if payment.status is PaymentStatus.REFUNDED and charge_id not in refunded:
            issues.append(Issue(IssueKind.REFUND_MISSING, charge_id))
    for charge_id in refunded - ours.keys():
        issues.append(Issue(IssueKind.UNKNOWN_AT_US, charge_id, "refund"))
    return issues


# -- settling: what reconciliation can put right by itself -----------------------------------


@dataclass(frozen=True, slots=True)
class Settled:
    """A charge credited by reconciliation (or found flagged): whom to tell, and what."""

    user_id: int
    receipt: Receipt
    found_at_telegram: bool  # never delivered to us: recorded from getStarTransactions


async def settle(
    session: AsyncSession,
    stars: StarsPort,
    catalogue: Catalogue,
    *,
    billing: BillingLog | None = None,
    max_transactions: int = 100_000,
) -> list[Settled]:
    """Credit every charge Telegram made that we did not credit; the caller commits, then tells
    each user (`Settled`).

    - a payment recorded but not credited (the handler died between its two steps and was never
      run again) is credited now;
    - an incoming Stars payment in `getStarTransactions` that we never recorded (the update was
      lost) is recorded from Telegram's own data (payer, payload, amount), checked against the
      catalogue like any other, and credited, or kept flagged for an operator.
    Idempotent as the handler is (charge id): running it alongside a late redelivery credits once.
    """
    settled = await credit_pending(session, billing=billing)
    known = set(await session.scalars(select(Payment.charge_id)))
    for tx in await _all_transactions(stars, max_transactions):
        partner = tx.source
        if (
            not isinstance(partner, TransactionPartnerUser)
            or partner.transaction_type != "invoice_payment"
            or tx.id in known
        ):
            continue
        if len(tx.id) > CHARGE_ID_LENGTH:
            continue  # cannot be keyed on whole: `reconcile` reports it (unknown-at-us)
        await purchases.ensure_user(session, partner.user.id)
        recurring = partner.subscription_period is not None
        first = recurring and not await _has_subscription_payment(
            session, partner.user.id, partner.invoice_payload
        )
        recorded = await purchases.record_charge(
            session,
            catalogue,
            user_id=partner.user.id,
            charge_id=tx.id,
            payload=partner.invoice_payload or "",
            currency=purchases.CURRENCY,
            total_amount=tx.amount,
            is_recurring=recurring,
            is_first_recurring=first,
            subscription_expiration=(
                tx.date.astimezone(UTC) + timedelta(seconds=partner.subscription_period)
                if partner.subscription_period
                else None
            ),
            source=ChargeSource.RECONCILE,
        )
        known.add(tx.id)
        receipt = await purchases.credit_charge(session, tx.id, billing=billing)
        if recorded.new or not receipt.duplicate:
            settled.append(Settled(partner.user.id, receipt, True))
    for item in settled:
        log.warning(
            "reconciliation settled payment %s of user %s: %s",
            item.receipt.payment_id,
            item.user_id,
            f"flagged {item.receipt.flag}" if item.receipt.flag else "credited",
        )
    return settled


async def credit_pending(
    session: AsyncSession,
    *,
    billing: BillingLog | None = None,
    older_than: timedelta = timedelta(0),
) -> list[Settled]:
    """Credit every charge recorded (and not flagged) but not credited, recorded more than
    `older_than` ago; the caller commits, then tells each user."""
    settled: list[Settled] = []
    waiting = await session.scalars(
        select(Payment.charge_id).where(
            Payment.credited_at.is_(None),
            Payment.flag.is_(None),
            Payment.status == PaymentStatus.PAID,
            Payment.created_at <= utcnow() - older_than,
        )
    )
    for charge_id in list(waiting):
        receipt = await purchases.credit_charge(session, charge_id, billing=billing)
        if not receipt.duplicate:
            settled.append(Settled(await _owner(session, charge_id), receipt, False))
    return settled


async def _owner(session: AsyncSession, charge_id: str) -> int:
    user_id = await session.scalar(select(Payment.user_id).where(Payment.charge_id == charge_id))
    assert user_id is not None
    return int(user_id)


async def _has_subscription_payment(
    session: AsyncSession, user_id: int, payload: str | None
) -> bool:
    """Whether this subscriber's plan was paid before (then a recurring charge is a renewal)."""
    if not payload:
        return False
    try:
        plan_id = decode_payload(payload).item_id
    except PayloadError:
        return False
    found = await session.scalar(
        select(Payment.id)
        .where(
            Payment.user_id == user_id,
            Payment.item_id == plan_id[:16],
            Payment.kind.in_((PaymentKind.SUBSCRIPTION, PaymentKind.RENEWAL)),
        )
        .limit(1)
    )
    return found is not None
