"""Banned users: every message and button press gets one clear answer, and nothing else runs.

Payments that already happened (`successful_payment`, `refunded_payment`) still reach their
handlers, because money must always be accounted; a new checkout is refused at pre-checkout.
Operators listed in `ADMIN_IDS` cannot lock themselves out.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.enums import ChatType
from aiogram.types import TelegramObject, Update

from bot.settings import Settings
from middlewares.data import view

log = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class BanMiddleware(BaseMiddleware):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        values = view(data)
        user = values.get("account")
        i18n = values.get("i18n")
        if user is None or i18n is None or not user.is_banned:
            return await handler(event, data)
        if user.id in self.settings.admin_ids:
            return await handler(event, data)
        notice = i18n("ban-notice")
        if event.message is not None:
            message = event.message
            if message.successful_payment is not None or message.refunded_payment is not None:
                return await handler(event, data)
            if message.chat.type == ChatType.PRIVATE:
                await message.answer(notice)
            return None
        if event.callback_query is not None:
            await event.callback_query.answer(notice, show_alert=True)
            return None
        if event.pre_checkout_query is not None:
            await event.pre_checkout_query.answer(ok=False, error_message=notice)
            return None
        if event.edited_message is not None or event.inline_query is not None:
            return None
        # Membership changes and the like still run: they keep our records true.
        return await handler(event, data)
