"""Per-user throttling of messages and button presses (payments are never throttled)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import CallbackQuery, Message, TelegramObject

from bot.metrics import Metrics
from bot.state import KeyValueState
from middlewares.data import view

log = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class ThrottlingMiddleware(BaseMiddleware):
    """Allows `burst` events per `burst / rate` seconds per user; the first excess one is told."""

    def __init__(self, state: KeyValueState, metrics: Metrics, rate: float, burst: int) -> None:
        self.state = state
        self.metrics = metrics
        self.burst = burst
        self.window = burst / rate

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        if isinstance(event, Message) and (
            event.successful_payment or event.refunded_payment or event.from_user is None
        ):
            return await handler(event, data)
        user = data.get("event_from_user")
        if user is None:
            return await handler(event, data)
        count = await self.state.hit(f"thr:{user.id}", self.window)
        if count <= self.burst:
            return await handler(event, data)
        self.metrics.throttled.inc()
        if count == self.burst + 1:
            i18n = view(data).get("i18n")
            text = i18n("error-throttled") if i18n else "…"
            if isinstance(event, CallbackQuery | Message):
                await event.answer(text)
        elif isinstance(event, CallbackQuery):
            # A press must always be answered or the client shows a spinner.
            await event.answer()
        return None
