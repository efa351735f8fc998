"""The log group: the startgroup binding (`/start <token>`), the bot's own membership
(`my_chat_member`) and the pinned control panel (owner only)."""

from __future__ import annotations

import logging

from aiogram import Bot, F, Router
from aiogram.enums import ChatMemberStatus, ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import CommandObject, CommandStart
from aiogram.types import CallbackQuery, ChatMemberAdministrator, ChatMemberUpdated, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models.logserver import LogServer, LogServerState
from bot.i18n import I18n, Translator
from bot.settings import Settings
from handlers.onboarding import (
    bind_and_continue,
    panel_text,
    refresh_panel,
    render_report,
)
from handlers.onboarding.key import key_prompt
from keyboards.logserver import PanelAction, PanelCD, panel_keyboard
from services import users
from services.logserver import LogServerService, RecordResult, actions
from services.logserver.delivery import DeliveryWorker
from services.logserver.onboarding import REQUIRED_RIGHTS, check_group

log = logging.getLogger(__name__)

_GROUPS = {ChatType.GROUP, ChatType.SUPERGROUP}


async def _owner_i18n(session: AsyncSession, translator: Translator, user_id: int) -> I18n:
    owner = await users.by_id(session, user_id)
    return translator.for_locale(translator.resolve_locale(owner.locale if owner else None))


# ---------------------------------------------------------------------- startgroup binding


async def start_in_group(
    message: Message,
    command: CommandObject,
    bot: Bot,
    session: AsyncSession,
    i18n: I18n,
    logserver: LogServerService,
    settings: Settings,
) -> None:
    """`/start@bot <token>`: sent when the user added the bot with the startgroup link."""
    sender = message.from_user
    owner_id = await logserver.redeem_token(command.args or "")
    if owner_id is None or sender is None:
        await message.answer(i18n("logserver-token-invalid"))
        return
    if owner_id != sender.id:
        await message.answer(i18n("logserver-token-wrong-user"))
        return
    report = await check_group(bot, message.chat.id, owner_id)
    if not report.ok:
        await message.answer(render_report(i18n, report))
        return
    await message.answer(i18n("logserver-group-bound-here"))
    await bind_and_continue(bot, session, logserver, i18n, owner_id, report, settings=settings)


# ---------------------------------------------------------------------- membership


async def membership_changed(
    event: ChatMemberUpdated,
    bot: Bot,
    session: AsyncSession,
    translator: Translator,
    logserver: LogServerService,
) -> None:
    """Keep the status true when the bot is removed, demoted, promoted or re-added."""
    server = await logserver.by_chat(session, event.chat.id)
    if server is None:
        return  # not a log server (yet: a startgroup binding arrives as /start)
    i18n = await _owner_i18n(session, translator, server.user_id)
    new = event.new_chat_member
    if new.status in (ChatMemberStatus.LEFT, ChatMemberStatus.KICKED):
        if await actions.mark_disconnected(session, logserver, server, "removed"):
            await _tell(bot, server.user_id, i18n("logserver-disconnected-removed"))
        return
    if not isinstance(new, ChatMemberAdministrator) or any(
        not getattr(new, r, False) for r in REQUIRED_RIGHTS
    ):
        if await actions.mark_disconnected(session, logserver, server, "rights"):
            await _tell(bot, server.user_id, i18n("logserver-disconnected-rights"))
        return
    queued = await actions.mark_reconnected(session, logserver, server)
    if queued is not None:
        await _tell(bot, server.user_id, i18n("logserver-reconnected", count=queued))


async def _tell(bot: Bot, user_id: int, text: str) -> None:
    try:
        await bot.send_message(user_id, text)
    except TelegramAPIError as exc:
        log.info("could not tell the owner of a log server: %s", exc.message)


# ---------------------------------------------------------------------- the control panel


async def _owned_server(
    query: CallbackQuery, session: AsyncSession, i18n: I18n, logserver: LogServerService
) -> LogServer | None:
    """The log server behind the pressed panel, if the presser owns it (else answered)."""
    if query.message is None:
        await query.answer(i18n("error-button-expired"), show_alert=True)
        return None
    server = await logserver.by_chat(session, query.message.chat.id)
    if server is None:
        await query.answer(i18n("logserver-panel-orphan"), show_alert=True)
        return None
    if server.user_id != query.from_user.id:
        await query.answer(i18n("logserver-only-owner"), show_alert=True)
        return None
    return server


async def panel_pressed(
    query: CallbackQuery,
    callback_data: PanelCD,
    bot: Bot,
    session: AsyncSession,
    i18n: I18n,
    logserver: LogServerService,
    log_delivery: DeliveryWorker,
    settings: Settings,
) -> None:
    server = await _owned_server(query, session, i18n, logserver)
    if server is None:
        return
    action = callback_data.action
    if action in (PanelAction.PAUSE, PanelAction.RESUME):
        pause = action is PanelAction.PAUSE
        state = await actions.set_paused(session, logserver, server, paused=pause)
        key = "logserver-paused" if state is LogServerState.PAUSED else "logserver-resumed"
        if pause and state is not LogServerState.PAUSED:
            key = "logserver-not-active"
        await query.answer(i18n(key))
        await refresh_panel(bot, session, logserver, server, i18n)
    elif action is PanelAction.TEST:
        if server.state is LogServerState.DISCONNECTED:
            # Queued now, it would wait for a repair: say so rather than "queued".
            await query.answer(i18n("logserver-test-cannot-deliver"), show_alert=True)
            return
        result = await actions.send_test(session, logserver, server)
        key = {
            RecordResult.QUEUED: "logserver-test-queued",
            RecordResult.PAUSED: "logserver-test-paused",
        }.get(result, "logserver-not-active")
        await query.answer(i18n(key), show_alert=result is not RecordResult.QUEUED)
    elif action is PanelAction.ROTATE:
        await logserver.expect_key(server.user_id)
        try:
            prompt, markup = key_prompt(i18n, settings, rotate=True)
            await bot.send_message(server.user_id, prompt, reply_markup=markup)
        except TelegramAPIError:
            await query.answer(i18n("logserver-open-private"), show_alert=True)
            return
        await query.answer(i18n("logserver-rotate-asked"), show_alert=True)
    elif action in (PanelAction.PURGE, PanelAction.DISCONNECT):
        await query.answer()
        await _show_panel(query, logserver, server, i18n, confirm=action)
    elif action is PanelAction.PURGE_YES:
        count = await actions.purge(session, logserver, server)
        await query.answer(i18n("logserver-purged", count=count), show_alert=True)
        await _show_panel(query, logserver, server, i18n)
    elif action is PanelAction.DISCONNECT_YES:
        await query.answer()
        dropped = await actions.disconnect(
            session, bot, logserver, log_delivery, server, i18n("logserver-group-goodbye")
        )
        await _tell(bot, server.user_id, i18n("logserver-disconnected-done", count=dropped))
    else:
        await query.answer()
        await _show_panel(query, logserver, server, i18n)


async def _show_panel(
    query: CallbackQuery,
    logserver: LogServerService,
    server: LogServer,
    i18n: I18n,
    *,
    confirm: PanelAction | None = None,
) -> None:
    message = query.message
    if message is None or not isinstance(message, Message):
        return
    note = i18n(f"logserver-confirm-{confirm.value}") if confirm is not None else None
    text = panel_text(i18n, server, head=logserver.head_block(server), note=note)
    try:
        await message.edit_text(
            text,
            reply_markup=panel_keyboard(
                i18n, paused=server.state is LogServerState.PAUSED, confirm=confirm
            ),
        )
    except TelegramAPIError as exc:
        log.info("panel not shown: %s", exc.message)


def setup() -> Router:
    router = Router(name="group_panel")
    router.message.register(start_in_group, CommandStart(deep_link=True), F.chat.type.in_(_GROUPS))
    router.my_chat_member.register(membership_changed, F.chat.type.in_(_GROUPS))
    router.callback_query.register(panel_pressed, PanelCD.filter())
    return router
