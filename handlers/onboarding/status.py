"""The private status panel: check again, change the key, disconnect."""

from __future__ import annotations

import contextlib
import logging
from functools import partial

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.types import CallbackQuery, InaccessibleMessage, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import User
from bot.db.models.logserver import LogServer
from bot.i18n import I18n
from bot.settings import Settings
from handlers.onboarding.finish import finish_setup
from handlers.onboarding.key import key_prompt
from handlers.onboarding.render import render_report, status_text, topic_names, with_warnings
from keyboards.logserver import SetupAction, SetupCD, status_keyboard
from services.logserver import LogServerService, actions
from services.logserver.delivery import DeliveryWorker
from services.logserver.onboarding import check_group, missing_topics

log = logging.getLogger(__name__)


async def _server_or_alert(
    query: CallbackQuery, i18n: I18n, server: LogServer | None, missing: str = "logserver-none"
) -> LogServer | None:
    """`server`; or, when there is none, None after the alert `missing` on the button."""
    if server is None:
        await query.answer(i18n(missing), show_alert=True)
    return server


def _editable(query: CallbackQuery) -> Message | None:
    """The message the button is on, if the bot can still edit it."""
    message = query.message
    if message is None or isinstance(message, InaccessibleMessage):
        return None
    return message


async def recheck(
    query: CallbackQuery,
    bot: Bot,
    user: User,
    session: AsyncSession,
    i18n: I18n,
    logserver: LogServerService,
) -> None:
    server = await _server_or_alert(query, i18n, await logserver.get(session, user.id))
    if server is None:
        return
    chat_id, _ = logserver.chat_of(server)
    report = await check_group(bot, chat_id, user.id)
    await query.answer()
    if not report.ok:
        await bot.send_message(user.id, render_report(i18n, report))
        return
    try:
        missing = await missing_topics(bot, server, chat_id)
    except TelegramAPIError as exc:
        log.info("log topics could not be checked: %s", exc.message)
        await bot.send_message(user.id, i18n("logserver-setup-failed"))
        return
    if server.public_key is not None:
        # Reconnected only once the missing topics are made again (`complete_setup`), so the
        # worker never sees an active log server without its topics.
        reconnect = partial(actions.mark_reconnected, session, logserver, server)
        setup = await finish_setup(
            bot, session, logserver, server, i18n, again=missing, activate=reconnect
        )
        if not setup.ok:
            return
        queued: int | None = setup.activated
    else:
        queued = await actions.mark_reconnected(session, logserver, server)
    text = with_warnings(i18n, i18n("logserver-recheck-ok"), report)
    if missing and server.public_key is not None:
        names = topic_names(i18n)
        text = (
            i18n("logserver-topics-recreated", topics=", ".join(names[k] for k in missing))
            + "\n\n"
            + text
        )
    if queued is not None:
        text += "\n\n" + i18n("logserver-reconnected", count=queued)
    await bot.send_message(user.id, text)
    await _edit_status(query, i18n, session, logserver, user.id)


async def _edit_status(
    query: CallbackQuery,
    i18n: I18n,
    session: AsyncSession,
    logserver: LogServerService,
    user_id: int,
    *,
    confirm_disconnect: bool = False,
) -> None:
    text = await status_text(i18n, session, logserver, user_id)
    message = _editable(query)
    if text is None or message is None:
        return
    with contextlib.suppress(TelegramBadRequest):  # unchanged text
        await message.edit_text(
            text, reply_markup=status_keyboard(i18n, confirm_disconnect=confirm_disconnect)
        )


async def change_key(
    query: CallbackQuery,
    user: User,
    session: AsyncSession,
    i18n: I18n,
    logserver: LogServerService,
    settings: Settings,
) -> None:
    server = await _server_or_alert(query, i18n, await logserver.get(session, user.id))
    if server is None:
        return
    await logserver.expect_key(user.id)
    await query.answer()
    if query.message is not None:
        text, markup = key_prompt(i18n, settings, rotate=True)
        await query.message.answer(text, reply_markup=markup)


async def ask_disconnect(
    query: CallbackQuery, user: User, session: AsyncSession, i18n: I18n, logserver: LogServerService
) -> None:
    await query.answer()
    await _edit_status(query, i18n, session, logserver, user.id, confirm_disconnect=True)


async def cancel(
    query: CallbackQuery, user: User, session: AsyncSession, i18n: I18n, logserver: LogServerService
) -> None:
    await query.answer()
    await _edit_status(query, i18n, session, logserver, user.id)


async def disconnect(
    query: CallbackQuery,
    bot: Bot,
    user: User,
    session: AsyncSession,
    i18n: I18n,
    logserver: LogServerService,
    log_delivery: DeliveryWorker,
) -> None:
    server = await _server_or_alert(query, i18n, await logserver.get(session, user.id))
    if server is None:
        return
    await query.answer()
    dropped = await actions.disconnect(
        session, bot, logserver, log_delivery, server, i18n("logserver-group-goodbye")
    )
    message = _editable(query)
    if message is not None:
        await message.edit_text(i18n("logserver-disconnected-done", count=dropped))


def setup() -> Router:
    router = Router(name="onboarding-status")
    for action, handler in (
        (SetupAction.RECHECK, recheck),
        (SetupAction.CHANGE_KEY, change_key),
        (SetupAction.DISCONNECT, ask_disconnect),
        (SetupAction.DISCONNECT_YES, disconnect),
        (SetupAction.CANCEL, cancel),
    ):
        router.callback_query.register(handler, SetupCD.filter(F.action == action))
    return router
