"""`/forget`: the user deletes their central personal data at once, after confirming."""

from __future__ import annotations

import hmac
import logging
import secrets

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import User
from bot.i18n import I18n
from bot.settings import Settings
from bot.state import KeyValueState
from keyboards.retention import ForgetAction, ForgetCD, forget_keyboard
from services.logserver import LogServerService
from services.logserver.delivery import DeliveryWorker
from services.retention.erase import erase_account

log = logging.getLogger(__name__)


def _nonce_key(user_id: int) -> str:
    return f"forget:{user_id}"


async def ask(
    message: Message, user: User, i18n: I18n, kv: KeyValueState, settings: Settings
) -> None:
    nonce = secrets.token_urlsafe(9)
    await kv.put(_nonce_key(user.id), nonce, settings.retention.forget_confirm_seconds)
    minutes = max(1, settings.retention.forget_confirm_seconds // 60)
    await message.answer(
        i18n("forget-confirm", minutes=minutes), reply_markup=forget_keyboard(i18n, nonce)
    )


async def answer(
    query: CallbackQuery,
    callback_data: ForgetCD,
    session: AsyncSession,
    user: User,
    i18n: I18n,
    kv: KeyValueState,
    state: FSMContext,
    logserver: LogServerService,
    log_delivery: DeliveryWorker,
) -> None:
    expected = await kv.take(_nonce_key(user.id))
    # bytes: compare_digest refuses non-ASCII str (the callback guard also refuses it earlier)
    if expected is None or not hmac.compare_digest(expected.encode(), callback_data.nonce.encode()):
        await query.answer(i18n("forget-expired"), show_alert=True)
        await _close(query, i18n("forget-expired"))
        return
    if callback_data.action is ForgetAction.CANCEL:
        await query.answer()
        await _close(query, i18n("forget-cancelled"))
        return
    await query.answer()
    report = await erase_account(session, user.id, audit=logserver, drain=log_delivery.drain)
    await state.clear()
    log.info("user data forgotten: %d rows in %d tables", report.rows, len(report.deleted))
    await _close(query, i18n("forget-done", rows=report.rows))


async def _close(query: CallbackQuery, text: str) -> None:
    """Replace the question by the outcome, so the buttons cannot be pressed again."""
    if isinstance(query.message, Message):
        await query.message.edit_text(text, reply_markup=None)
    elif query.from_user is not None and query.bot is not None:
        await query.bot.send_message(query.from_user.id, text)


def setup() -> Router:
    router = Router(name="retention")
    router.message.register(ask, Command("forget"))
    router.callback_query.register(answer, ForgetCD.filter(F.action.in_(set(ForgetAction))))
    return router
