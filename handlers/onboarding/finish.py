"""Completing a log server (topics, the pinned panel, the setup record) and refreshing its panel."""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramForbiddenError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models.logserver import LogServer, LogServerState
from bot.i18n import I18n, Translator
from handlers.onboarding.render import panel_text, server_panel_keyboard, topic_names
from services import users
from services.logserver import LogServerService, RecordKind, actions
from services.logserver.actions import Setup
from services.logserver.delivery import PanelEditor

log = logging.getLogger(__name__)


async def finish_setup(
    bot: Bot,
    session: AsyncSession,
    logserver: LogServerService,
    server: LogServer,
    i18n: I18n,
    *,
    again: Collection[RecordKind] = (),
    activate: Callable[[], Awaitable[Any]] | None = None,
) -> Setup:
    """Topics, the pinned panel and the setup record (`actions.complete_setup`); the user is
    told when the panel could not be pinned, or the setup failed (then `ok` is False)."""
    setup = await actions.complete_setup(
        session,
        bot,
        logserver,
        server,
        topic_names=topic_names(i18n),
        panel=lambda s: (panel_text(i18n, s), server_panel_keyboard(i18n, s)),
        again=again,
        activate=activate,
    )
    if not setup.ok:
        await bot.send_message(server.user_id, i18n("logserver-setup-failed"))
    elif not setup.pinned:
        await bot.send_message(server.user_id, i18n("logserver-warn-cannot-pin"))
    return setup


async def refresh_panel(
    bot: Bot, session: AsyncSession, logserver: LogServerService, server: LogServer, i18n: I18n
) -> None:
    """Show the panel's current state (a change that fails is not worth an error)."""
    head_seq = server.head_seq
    if await _edit_panel(bot, logserver, server, i18n) is _Edit.SHOWN:
        await actions.panel_shown(session, server, head_seq)


class _Edit(enum.Enum):
    SHOWN = "shown"  # the panel shows the head now
    NOT_WORTH_IT = "skip"  # no panel, or one that cannot be edited: retrying would not help
    LATER = "later"  # Telegram could not take the edit now


async def show_panel(bot: Bot, logserver: LogServerService, server: LogServer, i18n: I18n) -> bool:
    """Edit the pinned panel to the log server's state and signed head (the delivery worker's
    `server`, committed by it); False when Telegram could not take the edit now (try later),
    True when shown or not worth retrying."""
    head_seq = server.head_seq
    edit = await _edit_panel(bot, logserver, server, i18n)
    if edit is _Edit.SHOWN:
        server.panel_seq = head_seq
    return edit is not _Edit.LATER


async def _edit_panel(
    bot: Bot, logserver: LogServerService, server: LogServer, i18n: I18n
) -> _Edit:
    if server.panel_message_id is None or server.state is LogServerState.DISCONNECTED:
        return _Edit.NOT_WORTH_IT
    chat_id, _ = logserver.chat_of(server)
    try:
        await bot.edit_message_text(
            panel_text(i18n, server, head=logserver.head_block(server)),
            chat_id=chat_id,
            message_id=server.panel_message_id,
            reply_markup=server_panel_keyboard(i18n, server),
        )
    except TelegramBadRequest as exc:
        if "not modified" not in exc.message.lower():
            # The panel is gone or cannot be edited: retrying would not help.
            log.info("panel not refreshed: %s", exc.message)
            return _Edit.NOT_WORTH_IT
    except TelegramForbiddenError as exc:
        log.info("panel not refreshed: %s", exc.message)  # the bot left: delivery disconnects
        return _Edit.NOT_WORTH_IT
    except TelegramAPIError as exc:
        # A 5xx, a network error, or a flood wait longer than the send budget waits out for
        # us (bot/sendbudget.py paces and retries every call; nothing is retried here).
        log.info("panel not refreshed now: %s", type(exc).__name__)
        return _Edit.LATER
    return _Edit.SHOWN


def panel_editor(
    bot: Bot,
    logserver: LogServerService,
    translator: Translator,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> PanelEditor:
    """The delivery worker's way to put the new signed head on the panel (owner's language)."""

    async def edit(server: LogServer) -> bool:
        async with sessionmaker() as session:
            owner = await users.by_id(session, server.user_id)
        locale = translator.resolve_locale(owner.locale if owner else None)
        return await show_panel(bot, logserver, server, translator.for_locale(locale))

    return edit
