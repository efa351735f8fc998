"""Payments: the recent ones page by page, the ones that need a person, and refunds."""

from __future__ import annotations

import logging

from aiogram import F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import User
from bot.db.models.admin import AuditResult
from bot.i18n import Html, I18n
from bot.settings import Settings
from handlers.admin.panel import Panel, PendingRefund
from keyboards import admin as kb
from keyboards.admin import AdminAction, AdminCD, Confirm
from services.admin import operations
from services.admin.audit import AuditAction
from services.admin.ports import RefundRefused
from services.admin.service import AdminService

log = logging.getLogger(__name__)

# The attention list is short by nature; the newest first, on one screen.
ATTENTION_LIMIT = 20
_DATE = "%Y-%m-%d %H:%M"


async def on_payments(
    query: CallbackQuery,
    callback_data: AdminCD,
    session: AsyncSession,
    user: User,
    settings: Settings,
    admin: AdminService,
    panel: Panel,
) -> None:
    recent = admin.ports.recent_payments
    if recent is None:
        await panel.alert(panel.i18n("admin-payments-unavailable"))
        return
    page = max(0, callback_data.arg)
    size = settings.admin.page_size
    rows = list(await recent(session, page * size, size + 1))
    await operations.note(session, admin, user.id, AuditAction.PAYMENTS, AuditResult.OK)
    has_next = len(rows) > size
    rows = rows[:size]
    i18n = panel.i18n
    body = _listing(
        i18n,
        "admin-payments-empty",
        "admin-payments",
        [
            i18n(
                "admin-payment-line",
                id=str(r.id),
                user=str(r.user_id),
                stars=r.stars,
                date=r.created_at.strftime(_DATE),
                refunded=i18n("admin-payment-refunded") if r.refunded else "",
            )
            for r in rows
        ],
        page=page + 1,
    )
    await panel.show(body, kb.payments(i18n, rows, page, has_next=has_next))


async def on_attention(
    query: CallbackQuery, session: AsyncSession, user: User, admin: AdminService, panel: Panel
) -> None:
    """Payments that need a person: refund requests the policy left to an operator, charges
    recorded but not credited (flagged off the catalogue, or still pending), and charges that
    reached us only through reconciliation."""
    attention = admin.ports.attention
    if attention is None:
        await panel.alert(panel.i18n("admin-payments-unavailable"))
        return
    rows = list(await attention(session, ATTENTION_LIMIT))
    await operations.note(
        session, admin, user.id, AuditAction.PAYMENTS, AuditResult.OK, "attention"
    )
    i18n = panel.i18n
    body = _listing(
        i18n,
        "admin-attention-empty",
        "admin-attention",
        [
            i18n(
                "admin-attention-line",
                id=str(r.id),
                user=str(r.user_id),
                stars=r.stars,
                date=r.created_at.strftime(_DATE),
                reason=i18n(f"admin-attention-{r.reason.value}", detail=r.detail),
            )
            for r in rows
        ],
    )
    await panel.show(body, kb.attention(i18n, rows))


def _listing(i18n: I18n, empty: str, key: str, lines: list[str], **args: object) -> str:
    if not lines:
        return i18n(empty)
    return i18n(key, lines=Html("\n".join(lines)), **args)


async def on_refund(
    query: CallbackQuery, callback_data: AdminCD, user: User, admin: AdminService, panel: Panel
) -> None:
    if admin.ports.refund is None:
        await panel.alert(panel.i18n("admin-payments-unavailable"))
        return
    await panel.confirm(
        PendingRefund(payment=callback_data.arg),
        panel.i18n("admin-confirm-refund", id=str(callback_data.arg)),
        AdminAction.PAYMENTS,
    )


async def on_confirm_refund(
    query: CallbackQuery,
    callback_data: AdminCD,
    session: AsyncSession,
    user: User,
    admin: AdminService,
    panel: Panel,
) -> None:
    pending = await panel.take(PendingRefund, callback_data.ref)
    if pending is None:
        return
    i18n = panel.i18n
    back = kb.back_only(i18n, AdminAction.PAYMENTS)
    try:
        done = await operations.refund(session, admin, user.id, pending.payment)
    except operations.Unavailable:
        await panel.alert(i18n("admin-payments-unavailable"))
        return
    except RefundRefused as exc:
        await panel.show(i18n("admin-refund-refused", reason=_refusal(i18n, exc.reason)), back)
        return
    row = done.row
    body = i18n("admin-refunded", id=str(row.id), stars=row.stars, user=str(row.user_id))
    if row.shortfall:
        body += "\n" + i18n("admin-refund-shortfall", shortfall=row.shortfall)
    told = await _tell_refunded(panel, done)
    body += "\n" + i18n("admin-refund-user-told" if told else "admin-refund-user-not-told")
    await panel.show(body, back)


async def _tell_refunded(panel: Panel, done: operations.Refunded) -> bool:
    """The user hears of a refund an operator made, in their language."""
    translator = panel.i18n.translator
    text = translator.get(
        translator.resolve_locale(done.locale),
        "pay-refunded-by-admin",
        stars=done.row.stars,
        reversed=done.row.credits_reversed,
        balance=done.balance,
    )
    try:
        await panel.bot.send_message(done.row.user_id, text)
    except TelegramAPIError as exc:
        log.info("user of refunded payment %s not told: %s", done.row.id, exc)
        return False
    return True


def _refusal(i18n: I18n, reason: str) -> str:
    key = f"admin-refund-reason-{reason}"
    return i18n(key) if i18n.translator.has(i18n.locale, key) else reason


def setup() -> Router:
    router = Router(name="admin-payments")
    on = router.callback_query.register
    on(on_payments, AdminCD.filter(F.action == AdminAction.PAYMENTS))
    on(on_attention, AdminCD.filter(F.action == AdminAction.ATTENTION))
    on(on_refund, AdminCD.filter(F.action == AdminAction.REFUND))
    on(
        on_confirm_refund,
        AdminCD.filter((F.action == AdminAction.CONFIRM) & (F.arg == Confirm.REFUND)),
    )
    return router
