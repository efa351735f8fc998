"""/forget confirmed, as one use case: the Audit record of it goes out first, then every personal
row of the user goes, committed before the caller tells them."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from services.logserver import RecordResult
from services.retention.forget import ForgetReport, forget_user
from services.users import Auditor

log = logging.getLogger(__name__)


async def erase_account(
    session: AsyncSession,
    user_id: int,
    *,
    audit: Auditor,
    drain: Callable[[int], Awaitable[bool]],
) -> ForgetReport:
    """`drain(user_id)` waits (bounded) until the user's queued log records went out: the log
    server goes with everything else, and its record of this must reach it first."""
    if await audit.audit(session, user_id, "forget") is RecordResult.QUEUED:
        await session.commit()  # the delivery worker can only send what is committed
        if not await drain(user_id):
            log.info("the forget record did not reach the log server in time")
    report = await forget_user(session, user_id)
    await session.commit()
    return report
