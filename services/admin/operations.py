"""What an operator does through the panel, one unit of work each.

Every step of `Operations` makes its change, records its audit event and commits both before it
returns, so that the panel never tells an operator something that is not stored yet (the panel's
handlers never commit). A refused or failed step is audited and committed too, then raised.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import User
from bot.db.models.admin import AuditResult, Broadcast
from services import ledger
from services.admin import audit, broadcast
from services.admin.audit import AuditAction
from services.admin.ports import PaymentRow, RefundRefused
from services.admin.service import AdminService
from services.admin.users import move_credits, set_banned

log = logging.getLogger(__name__)


class Unavailable(Exception):
    """The feature behind this step is not wired into this deployment."""


class PurgeFailed(Exception):
    """The purge raised; it was logged and audited."""


@dataclass(frozen=True, slots=True)
class Refunded:
    """A refund done and committed, with what the user's notice needs."""

    row: PaymentRow
    locale: str | None
    balance: int


@dataclass(frozen=True, slots=True)
class Operations:
    """One operator's steps, in the session of the update that asked for them."""

    session: AsyncSession
    admin: AdminService
    actor_id: int

    async def note(
        self, action: AuditAction, result: AuditResult = AuditResult.OK, target: str | None = None
    ) -> None:
        """The audit event of a step that changes nothing else (a screen viewed, a refusal)."""
        audit.record(self.session, self.admin.settings, self.actor_id, action, result, target)
        await self.session.commit()
        self.admin.changed()

    async def move(self, user_id: int, amount: int, *, grant: bool, ref: str) -> int:
        """Grant or deduct credits once per `ref`; returns the new balance.

        Raises `ledger.InsufficientCredits` (audited as failed) and `ledger.DuplicateMovement`
        (this confirmation was applied already: nothing new to audit).
        """
        action = AuditAction.GRANT if grant else AuditAction.DEDUCT
        target = f"user:{user_id}"
        try:
            balance = await move_credits(self.session, user_id, amount, grant=grant, ref=ref)
        except ledger.InsufficientCredits:
            await self.note(action, AuditResult.FAILED, target)
            raise
        await self.note(action, AuditResult.OK, target)
        return balance

    async def ban(self, target: User) -> None:
        set_banned(target, True)
        await self.note(AuditAction.BAN, AuditResult.OK, f"user:{target.id}")

    async def unban(self, target: User) -> bool:
        """False when the user was not banned (audited as failed)."""
        changed = set_banned(target, False)
        result = AuditResult.OK if changed else AuditResult.FAILED
        await self.note(AuditAction.UNBAN, result, f"user:{target.id}")
        return changed

    async def refund(self, payment_id: int) -> Refunded:
        """Refund one payment; raises `RefundRefused` (audited as failed) or `Unavailable`."""
        port = self.admin.ports.refund
        if port is None:
            raise Unavailable("refund")
        target = f"payment:{payment_id}"
        try:
            row = await port(self.session, payment_id)
        except RefundRefused:
            await self.note(AuditAction.REFUND, AuditResult.FAILED, target)
            raise
        # The Stars went back at Telegram: the record of it is kept before anyone is told.
        await self.note(AuditAction.REFUND, AuditResult.OK, target)
        locale = await self.session.scalar(select(User.locale).where(User.id == row.user_id))
        balance = await ledger.balance(self.session, row.user_id)
        await self.session.commit()  # no transaction held across the notice that follows
        return Refunded(row, locale, balance)

    async def start_broadcast(
        self,
        *,
        chat_id: int,
        locale: str,
        text: str,
        audience: broadcast.Audience,
        default_locale: str,
    ) -> Broadcast:
        """The broadcast and its recipients, committed: the worker starts delivering at once."""
        bc = await broadcast.create(
            self.session,
            self.admin.settings,
            admin_id=self.actor_id,
            chat_id=chat_id,
            locale=locale,
            text=text,
            audience=audience,
            default_locale=default_locale,
        )
        await self.note(AuditAction.BROADCAST, AuditResult.OK, f"broadcast:{bc.id}")
        return bc

    async def purge(self) -> int:
        """Purge everything expired now; returns the rows removed. Raises `PurgeFailed`."""
        port = self.admin.ports.purge_now
        if port is None:
            raise Unavailable("purge")
        # The purge runs its own transactions: end this one first (SQLite has one writer).
        await self.session.commit()
        try:
            removed = await port()
        except Exception:
            log.exception("purge now failed")
            await self.note(AuditAction.PURGE, AuditResult.FAILED)
            raise PurgeFailed from None
        await self.note(AuditAction.PURGE, AuditResult.OK)
        return removed
