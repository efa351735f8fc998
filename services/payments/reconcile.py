"""Reconciliation: balances against movements, payments against movements, and our payments
against Telegram's own record (`getStarTransactions`). An empty report means all agree."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field

from aiogram.types import StarTransaction, TransactionPartnerUser
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import CreditMovement, MovementKind
from bot.db.models.payments import Payment, PaymentKind, PaymentStatus
from services import ledger
from services.payments.ports import StarsPort

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
        seen.add(credit_key)
        delta = movements.get(credit_key)
        if delta is None:
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
