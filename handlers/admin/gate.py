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
from bot.state import KeyValueState
from handlers import fallback
from handlers.admin.panel import Panel, PanelData, Pending
from handlers.admin.routing import PROMPT_FLAG
from keyboards.admin import AdminAction, AdminCD
from services.admin.access import is_admin
from services.admin.audit import AuditAction
from services.admin.operations import Operations
from services.admin.service import AdminService

log = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class GateData(TypedDict, total=False):
    """What the gate reads from the handler data (middlewares and the dispatcher put it there)."""

    user: User
    session: AsyncSession
    i18n: I18n
    settings: Settings
    admin: AdminService
    state: FSMContext
    bot: Bot
    kv: KeyValueState
    callback_data: AdminCD


class PanelArg(TypedDict, total=False):
    """What the gate adds for the admin handlers."""

    panel: Panel
    pending: Pending  # for a confirm button: the step it confirms


class OperatorGate(BaseMiddleware):
    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        given = cast(GateData, data)
        user = given.get("user")
        if user is None or not is_admin(given["settings"], user):
            await _refuse(event, given, data, user)
            return None
        query = event if isinstance(event, CallbackQuery) else None
        message = query.message if query is not None else event
        if not isinstance(message, Message):
            assert query is not None
            await query.answer(given["i18n"]("error-button-expired"), show_alert=True)
            return None
        state = given["state"]
        saved = await PanelData.load(state)
        panel = Panel(
            session=given["session"],
            operator=user,
            ops=Operations(given["session"], given["admin"], user.id),
            settings=given["settings"],
            admin=given["admin"],
            kv=given["kv"],
            bot=given["bot"],
            state=state,
            i18n=given["i18n"],
            chat_id=message.chat.id,
            data=saved.model_copy(),
            query=query,
        )
        data.update(PanelArg(panel=panel))
        if query is not None:
            pressed = given["callback_data"]
            panel.data.panel = message.message_id
            if pressed.action is AdminAction.CONFIRM:
                # The confirmation handlers get their step as `pending`, taken once.
                pending = await panel.take(pressed)
                if pending is None:
                    return None
                data.update(PanelArg(pending=pending))
            else:
                panel.data.pending = None  # any other press cancels a pending confirmation
                if panel.data != saved:
                    await panel.save()
        result = await handler(event, data)
        if query is not None and not panel.answered:
            await query.answer()
        return result


async def _refuse(
    event: TelegramObject, given: GateData, data: dict[str, Any], user: User | None
) -> None:
    session, admin, i18n = given["session"], given["admin"], given["i18n"]
    if isinstance(event, CallbackQuery):
        cd = given["callback_data"]
        if user is not None:
            target = f"{cd.action.name.lower()}:{cd.arg}"
            await Operations(session, admin, user.id).note(
                AuditAction.CALLBACK, AuditResult.DENIED, target
            )
        log.warning("admin button pressed by a non-operator (audited)")
        await fallback.expired_button(event, i18n)
        return
    assert isinstance(event, Message)
    prompt = bool(get_flag(data, PROMPT_FLAG))
    if prompt:
        # A former operator still in a prompt: the prompt ends, nothing is done.
        await given["state"].clear()
    if user is not None:
        await Operations(session, admin, user.id).note(AuditAction.OPEN, AuditResult.DENIED)
    if prompt:
        await fallback.plain_text(event, i18n)
    else:
        await fallback.unknown_command(event, i18n)
