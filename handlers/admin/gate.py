"""Who gets past the panel's filters: operators only, checked on the server for every update.

An inner middleware on the admin router: it runs after aiogram chose an admin handler (so every
admin handler declares `user`, which makes the session middleware load the row), re-checks the
role, and either refuses (audited, answered exactly as for anyone else) or hands the handler its
`panel`. A press is always answered: with the handler's alert, or silently afterwards.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypedDict, cast

from aiogram import BaseMiddleware, Bot
from aiogram.dispatcher.flags import get_flag
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message, TelegramObject
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import User
from bot.db.models.admin import AuditResult
from bot.i18n import I18n
from bot.settings import Settings
from handlers import fallback
from handlers.admin.panel import Panel, PanelData
from keyboards.admin import AdminAction, AdminCD
from services.admin import operations
from services.admin.access import is_admin
from services.admin.audit import AuditAction
from services.admin.service import AdminService

log = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]

# The flag of the handlers that answer a prompt (a former operator's reply ends the prompt).
PROMPT = {"admin_prompt": True}


class GateData(TypedDict, total=False):
    """What the gate reads from the handler data (middlewares and the dispatcher put it there)."""

    user: User
    session: AsyncSession
    i18n: I18n
    settings: Settings
    admin: AdminService
    state: FSMContext
    bot: Bot
    callback_data: AdminCD


class PanelArg(TypedDict):
    """What the gate adds for the admin handlers."""

    panel: Panel


class OperatorGate(BaseMiddleware):
    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        given = cast(GateData, data)
        user = given.get("user")
        settings, i18n = given["settings"], given["i18n"]
        if user is None or not is_admin(settings, user):
            await _refuse(event, given, data, user)
            return None
        state, bot = given["state"], given["bot"]
        saved = await PanelData.load(state)
        if isinstance(event, CallbackQuery):
            message = event.message
            if not isinstance(message, Message):
                await event.answer(i18n("error-button-expired"), show_alert=True)
                return None
            cd = given["callback_data"]
            pressed = saved.model_copy()
            pressed.panel = message.message_id
            if cd.action is not AdminAction.CONFIRM:
                pressed.pending = None  # any other press cancels a pending confirmation
            panel = Panel(bot, state, i18n, message.chat.id, pressed, query=event)
            if pressed != saved:
                await panel.save()
            data.update(PanelArg(panel=panel))
            result = await handler(event, data)
            if not panel.answered:
                await event.answer()
            return result
        assert isinstance(event, Message)
        data.update(PanelArg(panel=Panel(bot, state, i18n, event.chat.id, saved)))
        return await handler(event, data)


async def _refuse(
    event: TelegramObject, given: GateData, data: dict[str, Any], user: User | None
) -> None:
    session, admin, i18n = given["session"], given["admin"], given["i18n"]
    if isinstance(event, CallbackQuery):
        cd = given["callback_data"]
        if user is not None:
            target = f"{cd.action.name.lower()}:{cd.arg}"
            await operations.note(
                session, admin, user.id, AuditAction.CALLBACK, AuditResult.DENIED, target
            )
        log.warning("admin button pressed by a non-operator (audited)")
        await fallback.expired_button(event, i18n)
        return
    assert isinstance(event, Message)
    prompt = bool(get_flag(data, "admin_prompt"))
    if prompt:
        # A former operator still in a prompt: the prompt ends, nothing is done.
        await given["state"].clear()
    if user is not None:
        await operations.note(session, admin, user.id, AuditAction.OPEN, AuditResult.DENIED)
    if prompt:
        await fallback.plain_text(event, i18n)
    else:
        await fallback.unknown_command(event, i18n)
