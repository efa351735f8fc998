"""Payments: the recent ones page by page, the ones that need a person, and refunds."""

from __future__ import annotations

import logging

from aiogram import Router
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery

from bot.db.models import User
from bot.i18n import Html, I18n
from handlers.admin.panel import Panel, PendingRefund
from handlers.admin.routing import Routes
from keyboards import admin as kb
from keyboards.admin import AdminAction, AdminCD, Confirm
from services.admin import operations
from services.admin.audit import AuditAction
from services.admin.ports import AttentionRow, PaymentRow, RefundRefused

routes = Routes("admin-payments")

log = logging.getLogger(__name__)

# The attention list is short by nature; the newest first, on one screen.
ATTENTION_LIMIT = 20
_DATE = "%Y-%m-%d %H:%M"


@routes.button(AdminAction.PAYMENTS)
async def on_payments(
    query: CallbackQuery, callback_data: AdminCD, user: User, panel: Panel
) -> None:
    recent = panel.admin.ports.recent_payments
    if recent is None:
        await panel.alert(panel.i18n("admin-payments-unavailable"))
        return
    page = max(0, callback_data.arg)
    size = panel.settings.admin.page_size
    rows = list(await recent(panel.session, page * size, size + 1))
    await panel.ops.note(AuditAction.PAYMENTS)
    has_next = len(rows) > size
    rows = rows[:size]
    i18n = panel.i18n
    refunded = i18n("admin-payment-refunded")
    lines = [
        _line(i18n, "admin-payment-line", r, refunded=refunded if r.refunded else "") for r in rows
    ]
    body = _listing(i18n, "admin-payments-empty", "admin-payments", lines, page=page + 1)
    await panel.show(body, kb.payments(i18n, rows, page, has_next=has_next))


@routes.button(AdminAction.ATTENTION)
async def on_attention(query: CallbackQuery, user: User, panel: Panel) -> None:
    """Payments that need a person: refund requests the policy left to an operator, charges
    recorded but not credited (flagged off the catalogue, or still pending), and charges that
    reached us only through reconciliation."""
    attention = panel.admin.ports.attention
    if attention is None:
        await panel.alert(panel.i18n("admin-payments-unavailable"))
        return
    rows = list(await attention(panel.session, ATTENTION_LIMIT))
    await panel.ops.note(AuditAction.PAYMENTS, target="attention")
    i18n = panel.i18n
    lines = [
        _line(
            i18n,
            "admin-attention-line",
            r,
            reason=i18n(f"admin-attention-{r.reason.value}", detail=r.detail),
        )
        for r in rows
    ]
    body = _listing(i18n, "admin-attention-empty", "admin-attention", lines)
    await panel.show(body, kb.attention(i18n, rows))


def _line(i18n: I18n, key: str, row: PaymentRow | AttentionRow, **more: object) -> str:
    return i18n(
        key,
        id=str(row.id),
        user=str(row.user_id),
        stars=row.stars,
        date=row.created_at.strftime(_DATE),
        **more,
    )


def _listing(i18n: I18n, empty: str, key: str, lines: list[str], **args: object) -> str:
    if not lines:
        return i18n(empty)
    return i18n(key, lines=Html("\n".join(lines)), **args)


@routes.button(AdminAction.REFUND)
async def on_refund(query: CallbackQuery, callback_data: AdminCD, user: User, panel: Panel) -> None:
    if panel.admin.ports.refund is None:
        await panel.alert(panel.i18n("admin-payments-unavailable"))
        return
    body = panel.i18n("admin-confirm-refund", id=str(callback_data.arg))
    await panel.confirm(PendingRefund(payment=callback_data.arg), body, AdminAction.PAYMENTS)


@routes.confirmation(Confirm.REFUND)
async def on_confirm_refund(
    query: CallbackQuery, user: User, panel: Panel, pending: PendingRefund
) -> None:
    i18n = panel.i18n
    back = kb.back_only(i18n, AdminAction.PAYMENTS)
    try:
        done = await panel.ops.refund(pending.payment)
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
    return routes.router()
