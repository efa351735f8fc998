"""Completing a log server (topics, the pinned panel, the setup record) and refreshing its panel."""

from __future__ import annotations

import logging

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models.logserver import LogServer, LogServerState
from bot.i18n import I18n
from handlers.onboarding.render import panel_text, server_panel_keyboard, topic_names
from services.logserver import LogServerService, RecordKind
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
    if server.panel_message_id is None or server.state is LogServerState.DISCONNECTED:
        return
    chat_id, _ = logserver.chat_of(server)
    try:
        await bot.edit_message_text(
            panel_text(i18n, server),
            chat_id=chat_id,
            message_id=server.panel_message_id,
            reply_markup=server_panel_keyboard(i18n, server),
        )
    except TelegramAPIError as exc:
        log.info("panel not refreshed: %s", exc.message)
