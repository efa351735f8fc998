"""Per-user throttling of messages and button presses (payments are never throttled).

An update-level middleware that runs before any database work: a flood costs one counter
increment per update and nothing else.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import CallbackQuery, Message, TelegramObject, Update

from bot.i18n import Translator
from bot.metrics import Metrics
from bot.state import KeyValueState
from middlewares.context import peek_locale
from middlewares.data import view
from middlewares.users import UserDirectory

log = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


def _throttled_event(update: Update) -> Message | CallbackQuery | None:
    message = update.message
    if message is not None:
        if message.successful_payment or message.refunded_payment or message.from_user is None:
            return None
        return message
    return update.callback_query


class ThrottlingMiddleware(BaseMiddleware):
    """Allows `burst` events per `burst / rate` seconds per user; the first excess one is told."""

    def __init__(
        self,
        state: KeyValueState,
        metrics: Metrics,
        rate: float,
        burst: int,
        *,
        directory: UserDirectory,
        translator: Translator,
    ) -> None:
        self.state = state
        self.metrics = metrics
        self.burst = burst
        self.window = burst / rate
        self.directory = directory
        self.translator = translator

    def counter(self, event: Update, data: dict[str, Any]) -> str | None:
        """The rate counter this update counts against, if any (the de-duplication middleware
        counts it with its claim, in the same round trip)."""
        user = data.get("event_from_user")
        if _throttled_event(event) is None or user is None:
            return None
        return f"thr:{user.id}"

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        target = _throttled_event(event)
        counter = self.counter(event, data)
        delivery = view(data).get("delivery")
        if target is None or counter is None or (delivery is not None and delivery.throttle_passed):
            return await handler(event, data)
        if delivery is not None and delivery.throttle_count is not None:
            count = delivery.throttle_count
        else:
            count = await self.state.hit(counter, self.window)
        if count <= self.burst:
            if delivery is not None:
                delivery.throttle_passed = True
            return await handler(event, data)
        self.metrics.throttled.inc()
        if count == self.burst + 1:
            locale = peek_locale(self.directory, self.translator, data)
            await target.answer(self.translator.get(locale, "error-throttled"))
        elif isinstance(target, CallbackQuery):
            # A press must always be answered or the client shows a spinner.
            await target.answer()
        return None
