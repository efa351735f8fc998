"""The audit trail: every admin action and every refused attempt.

An event is written to `admin_audit_events` in the caller's transaction (kept at most 24 hours),
then a publisher seals it as a Context-Lock record (signed by the server key, encrypted to the
operators' key) and posts it to the operators' log group when one is configured.
"""

from __future__ import annotations

import enum
import html
import logging
from datetime import datetime, timedelta

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.base import utcnow
from bot.db.models.admin import AuditChain, AuditEvent, AuditResult
from services.admin.config import AdminSettings
from services.crypto import GENESIS_DIGEST, ContextLock, KeyInfo, LogRecord, RecordContext

log = logging.getLogger(__name__)

RECORD_KIND = "audit"
_BATCH = 20


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


def event_body(event: AuditEvent) -> dict[str, object]:
    return {
        "actor": event.actor_id,
        "action": event.action,
        "target": event.target,
        "result": event.result.value,
        "at": event.created_at.isoformat(),
    }


class AuditPublisher:
    """Posts unposted events, oldest first, to the operators' log group, chained and signed."""

    def __init__(self, lock: ContextLock, operator_key: KeyInfo, chat_id: int) -> None:
        self.lock = lock
        self.operator_key = operator_key
        self.ctx = RecordContext(chat_id=chat_id, thread_id=None)

    async def publish_pending(
        self, bot: Bot, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> int:
        posted = 0
        async with sessionmaker() as session:
            events = (
                await session.scalars(
                    select(AuditEvent)
                    .where(AuditEvent.posted_at.is_(None))
                    .order_by(AuditEvent.id)
                    .limit(_BATCH)
                )
            ).all()
            if not events:
                return 0
            chain = await session.get(AuditChain, 1)
            if chain is None:
                chain = AuditChain(id=1, seq=0, digest=GENESIS_DIGEST)
                session.add(chain)
            for event in events:
                sealed = self.lock.seal_record(
                    LogRecord(
                        kind=RECORD_KIND,
                        seq=chain.seq + 1,
                        prev=chain.digest,
                        body=event_body(event),
                    ),
                    self.operator_key,
                    self.ctx,
                )
                day = event.created_at.strftime("%Y%m%d")
                text = f"#audit #d{day}\n<pre>{html.escape(sealed.armored)}</pre>"
                try:
                    await bot.send_message(self.ctx.chat_id, text)
                except TelegramAPIError:
                    log.warning("audit record %s not posted; will retry", event.id, exc_info=True)
                    break
                chain.seq = sealed.seq
                chain.digest = sealed.digest
                event.posted_at = utcnow()
                # Commit per record: a posted record is never posted twice.
                await session.commit()
                posted += 1
        return posted
