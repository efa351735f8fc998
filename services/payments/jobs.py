"""Scheduled payments work: reconciliation against Telegram, so a disagreement is noticed the
same day (logged with ids and amounts only), and settling what reconciliation can put right by
itself: a charge recorded but never credited, or made at Telegram and never delivered to us, is
credited (or kept flagged for an operator, who sees it in the admin panel) and the user is told.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.payments.catalogue import Catalogue
from services.payments.ports import BillingLog, StarsPort
from services.payments.reconcile import Report, Settled, reconcile, settle

log = logging.getLogger(__name__)

Notify = Callable[..., Awaitable[bool]]  # (user_id, message key, **args) -> told


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
        "pay-reconciled",
        stars=receipt.stars,
        credits=receipt.credits,
        balance=receipt.balance,
    )
