"""Completing a log server (topics, the pinned panel, the setup record) and refreshing its panel."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramForbiddenError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models.logserver import LogServer, LogServerState
from bot.i18n import I18n, Translator
from handlers.onboarding.render import panel_text, server_panel_keyboard, topic_names
from services import users
from services.logserver import LogServerService, RecordKind
from services.logserver.delivery import PanelEditor
from services.logserver.onboarding import ensure_topics, post_panel

log = logging.getLogger(__name__)


async def finish_setup(
    bot: Bot, session: AsyncSession, logserver: LogServerService, server: LogServer, i18n: I18n
) -> bool:
    """Topics, the setup record and the pinned panel; False (and the user told) on failure."""
    chat_id, _ = logserver.chat_of(server)
    try:
        created = await ensure_topics(bot, server, chat_id, topic_names(i18n))
        await session.flush()
        posted = server.panel_message_id is None
        if posted:
            pinned = await post_panel(
                bot,
                server,
                chat_id,
                panel_text(i18n, server),
                server_panel_keyboard(i18n, server),
            )
            if not pinned:
                await bot.send_message(server.user_id, i18n("logserver-warn-cannot-pin"))
    except TelegramAPIError as exc:
        log.info("log server setup failed: %s", exc.message)
        await bot.send_message(server.user_id, i18n("logserver-setup-failed"))
        return False
    if not created and not posted:
        return True  # already complete: nothing to record
    await logserver.record_in(
        session,
        server.user_id,
        RecordKind.SYSTEM,
        {
            "event": "setup",
            "fingerprint": server.key_fingerprint,
            "topics": {kind.value: getattr(server, f"thread_{kind.value}") for kind in RecordKind},
        },
    )
    # Committed now so that the worker, woken here, finds the setup record.
    await session.commit()
    logserver.wake.set()
    return True


async def refresh_panel(
    bot: Bot, logserver: LogServerService, server: LogServer, i18n: I18n
) -> None:
    """Show the panel's current state (a change that fails is not worth an error)."""
    await show_panel(bot, logserver, server, i18n)


async def show_panel(bot: Bot, logserver: LogServerService, server: LogServer, i18n: I18n) -> bool:
    """Edit the pinned panel to the log server's state and signed head; False when Telegram
    could not take the edit now (try later), True when shown or not worth retrying."""
    if server.panel_message_id is None or server.state is LogServerState.DISCONNECTED:
        return True
    chat_id, _ = logserver.chat_of(server)
    head_seq = server.head_seq
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
            return True
    except TelegramForbiddenError as exc:
        log.info("panel not refreshed: %s", exc.message)  # the bot left: delivery disconnects
        return True
    except TelegramAPIError as exc:
        # A 5xx, a network error, or a flood wait longer than the send budget waits out for
        # us (bot/sendbudget.py paces and retries every call; nothing is retried here).
        log.info("panel not refreshed now: %s", type(exc).__name__)
        return False
    server.panel_seq = head_seq
    return True


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
