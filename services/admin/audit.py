"""The audit trail: every admin action and every refused attempt.

An event is written to `admin_audit_events` in the caller's transaction (kept at most 24 hours),
then a publisher seals it as a Context-Lock record (signed by the server key, encrypted to the
operators' key) and posts it to the operators' log group when one is configured.
"""

from __future__ import annotations

import enum
import html
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from aiogram.exceptions import TelegramAPIError
from aiogram.types import BufferedInputFile
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.base import utcnow
from bot.db.models.admin import AuditChain, AuditEvent, AuditResult
from services.admin.config import AdminSettings
from services.crypto import GENESIS_DIGEST, ContextLock, KeyInfo, LogRecord, RecordContext
from services.ports import MessageSender
from services.sendbudget import Priority, send_priority

log = logging.getLogger(__name__)

RECORD_KIND = "audit"
_BATCH = 20
# Larger records go as an .asc document (a message holds 4096 characters).
_MAX_INLINE = 3800


class AuditAction(enum.StrEnum):
    OPEN = "open"
    STATS = "stats"
    CHART = "chart"
    LOOKUP = "lookup"
    VIEW_USER = "view-user"
    GRANT = "grant"
    DEDUCT = "deduct"
    BAN = "ban"
    UNBAN = "unban"
    PAYMENTS = "payments"
    REFUND = "refund"
    BROADCAST = "broadcast"
    BROADCAST_DONE = "broadcast-done"
    SYSTEM = "system"
    PURGE = "purge"
    CALLBACK = "callback"  # a button pressed by someone who is not an operator
    DASHBOARD = "dashboard"  # the dashboard Mini App opened, or refused (target: why)
    STAFF = "staff"  # the Staff role granted or taken back (target: user and on/off)


def record(
    session: AsyncSession,
    settings: AdminSettings,
    actor_id: int,
    action: AuditAction,
    result: AuditResult,
    target: str | None = None,
    *,
    now: datetime | None = None,
) -> AuditEvent:
    """Add one event to the caller's transaction (the caller commits)."""
    at = now or utcnow()
    event = AuditEvent(
        actor_id=actor_id,
        action=action.value,
        target=target[:64] if target else None,
        result=result,
        created_at=at,
        expires_at=at + timedelta(hours=settings.retention_hours),
    )
    session.add(event)
    return event


async def record_alone(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: AdminSettings,
    actor_id: int,
    action: AuditAction,
    result: AuditResult,
    target: str | None = None,
) -> None:
    """One event in a transaction of its own, committed here (callers outside an update, such
    as the Mini App's routes)."""
    async with sessionmaker() as session:
        record(session, settings, actor_id, action, result, target)
        await session.commit()


def event_body(event: AuditEvent) -> dict[str, object]:
    return {
        "actor": event.actor_id,
        "action": event.action,
        "target": event.target,
        "result": event.result.value,
        "at": event.created_at.isoformat(),
    }


class AuditPublisher:
    """Posts unposted events to the operators' log group as signed, chained, encrypted records.

    Events waiting together go into one record (Telegram allows about 20 messages a minute into
    one group), and records are posted at most every `min_interval` seconds. Delivery is at least
    once: a crash between the post and its commit posts that record again (same `seq`), so the
    reader shows a duplicate, never a gap.
    """

    def __init__(
        self,
        lock: ContextLock,
        operator_key: KeyInfo,
        chat_id: int,
        *,
        min_interval: float = 3.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lock = lock
        self.operator_key = operator_key
        self.ctx = RecordContext(chat_id=chat_id, thread_id=None)
        self.min_interval = min_interval
        self.clock = clock
        self._next_at = 0.0

    async def publish_pending(
        self, bot: MessageSender, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> int:
        """Post one record with up to `_BATCH` waiting events; returns how many it carried."""
        if self.clock() < self._next_at:
            return 0
        async with sessionmaker() as session:
            events = (
                await session.scalars(
                    select(AuditEvent)
                    .where(AuditEvent.posted_at.is_(None))
                    .order_by(AuditEvent.id)
                    .limit(_BATCH)
                )
            ).all()
            chain = await session.get(AuditChain, 1)
        if not events:
            return 0
        seq, prev = (chain.seq, chain.digest) if chain is not None else (0, GENESIS_DIGEST)
        sealed = self.lock.seal_record(
            LogRecord(
                kind=RECORD_KIND,
                seq=seq + 1,
                prev=prev,
                body={"events": [event_body(e) for e in events]},
            ),
            self.operator_key,
            self.ctx,
        )
        # No transaction is open across the network call.
        header = f"#audit #d{events[0].created_at.strftime('%Y%m%d')}"
        self._next_at = self.clock() + self.min_interval
        try:
            # Bulk: the send budget paces it behind replies and waits out `retry_after`.
            with send_priority(Priority.BULK):
                if len(sealed.armored) > _MAX_INLINE:
                    await bot.send_document(
                        self.ctx.chat_id,
                        BufferedInputFile(
                            sealed.armored.encode(), filename=f"audit-{sealed.seq}.asc"
                        ),
                        caption=header,
                    )
                else:
                    await bot.send_message(
                        self.ctx.chat_id, f"{header}\n<pre>{html.escape(sealed.armored)}</pre>"
                    )
        except TelegramAPIError:
            log.warning("audit record %s not posted; will retry", sealed.seq, exc_info=True)
            return 0
        ids = [e.id for e in events]
        async with sessionmaker() as session:
            await session.execute(
                update(AuditEvent).where(AuditEvent.id.in_(ids)).values(posted_at=utcnow())
            )
            head = await session.get(AuditChain, 1)
            if head is None:
                session.add(AuditChain(id=1, seq=sealed.seq, digest=sealed.digest))
            else:
                head.seq, head.digest = sealed.seq, sealed.digest
            await session.commit()
        return len(ids)
