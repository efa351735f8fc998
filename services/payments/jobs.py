"""Scheduled payments work: reconciliation against Telegram, so a disagreement is noticed the
same day (logged with ids and amounts only)."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.payments.ports import StarsPort
from services.payments.reconcile import Report, reconcile

log = logging.getLogger(__name__)


async def reconcile_tick(
    sessionmaker: async_sessionmaker[AsyncSession], stars: StarsPort
) -> Report:
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
