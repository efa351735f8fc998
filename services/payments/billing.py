"""The billing log on the personal log server: payments, renewals and refunds go to the user's
Billing topic, sealed to the user's key, queued in the same transaction as the money movement."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from services.logserver import LogServerService, RecordKind, RecordResult
from services.payments.ports import BillingEvent

log = logging.getLogger(__name__)


class LogServerBilling:
    """`BillingLog` backed by the log server (`services/logserver`)."""

    def __init__(self, logserver: LogServerService) -> None:
        self.logserver = logserver

    async def record(
        self,
        session: AsyncSession,
        user_id: int,
        kind: BillingEvent,
        body: Mapping[str, object],
    ) -> None:
        result = await self.logserver.record_in(
            session, user_id, RecordKind.BILLING, {"event": kind.value, **body}
        )
        if result is RecordResult.QUEUED:
            # The delivery worker may look only once the record is committed.
            event.listen(session.sync_session, "after_commit", self._wake, once=True)
        elif result is RecordResult.FAILED:
            log.warning("billing record for user %s could not be queued", user_id)

    def _wake(self, _session: Session) -> None:
        self.logserver.wake.set()
