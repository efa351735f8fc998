"""Scheduled payments work: reconciliation against Telegram, so a disagreement is noticed the
same day (logged with ids and amounts only), and settling what reconciliation can put right by
itself: a charge recorded but never credited, or made at Telegram and never delivered to us, is
credited (or kept flagged for an operator, who sees it in the admin panel) and the user is told.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.payments.catalogue import Catalogue
from services.payments.ports import BillingLog, StarsPort
from services.payments.reconcile import Report, Settled, credit_pending, reconcile, settle

log = logging.getLogger(__name__)

Notify = Callable[..., Awaitable[bool]]  # (user_id, message key, **args) -> told

# A charge still uncredited after this long is not being retried by the handler any more (the
# error boundary gives up after 10 minutes): the frequent job credits it.
PENDING_GRACE = timedelta(minutes=10)


async def credit_pending_tick(
    sessionmaker: async_sessionmaker[AsyncSession],
    billing: BillingLog | None = None,
    notify: Notify | None = None,
) -> int:
    """The frequent job (`payments.credit_pending`): crediting is retried until it succeeds,
    without waiting for the daily reconciliation. Only our own database; returns how many."""
    async with sessionmaker() as session:
        settled = await credit_pending(session, billing=billing, older_than=PENDING_GRACE)
        await session.commit()
    for item in settled:
        log.warning("payment %s credited late (user %s)", item.receipt.payment_id, item.user_id)
        if notify is not None:
            await _tell(notify, item)
    return len(settled)


async def reconcile_tick(
    sessionmaker: async_sessionmaker[AsyncSession],
    stars: StarsPort,
    catalogue: Catalogue | None = None,
    billing: BillingLog | None = None,
    notify: Notify | None = None,
) -> Report:
    """With a catalogue: settle first (committed before anyone is told), then report."""
    if catalogue is not None:
        async with sessionmaker() as session:
            settled = await settle(session, stars, catalogue, billing=billing)
            await session.commit()
        if notify is not None:
            for item in settled:
                await _tell(notify, item)
    async with sessionmaker() as session:
        report = await reconcile(session, stars)
    if report.ok:
        log.info(
            "payments reconciled: %s payments, %s Telegram transactions agree",
            report.payments_checked,
            report.transactions_checked,
        )
    else:
        for issue in report.issues:
            log.warning("payments reconciliation: %s %s %s", issue.kind, issue.ref, issue.detail)
    return report


async def _tell(notify: Notify, item: Settled) -> None:
    receipt = item.receipt
    if receipt.flag is not None:
        await notify(item.user_id, "pay-receipt-unknown")
        return
    await notify(
        item.user_id,
        "pay-reconciled" if item.found_at_telegram else "pay-credited-late",
        stars=receipt.stars,
        credits=receipt.credits,
        balance=receipt.balance,
    )
