"""Outermost update middlewares: de-duplication, metrics and the error boundary."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.types import TelegramObject, Update, User

from bot.i18n import Translator
from bot.metrics import Metrics
from bot.state import KeyValueState
from middlewares.data import view

log = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]

# Telegram redelivers an update for at most a day; an hour covers every retry we have seen.
DEDUP_TTL = 3600.0


class DeduplicateMiddleware(BaseMiddleware):
    def __init__(self, state: KeyValueState, metrics: Metrics) -> None:
        self.state = state
        self.metrics = metrics

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        if not await self.state.set_once(f"upd:{event.update_id}", DEDUP_TTL):
            self.metrics.duplicates.inc()
            log.info("update %s already handled; skipped", event.update_id)
            return None
        return await handler(event, data)


class MetricsMiddleware(BaseMiddleware):
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        kind = event.event_type
        started = time.perf_counter()
        try:
            return await handler(event, data)
        except Exception:
            self.metrics.errors.labels(kind).inc()
            raise
        finally:
            self.metrics.updates.labels(kind).inc()
            self.metrics.latency.labels(kind).observe(time.perf_counter() - started)


class ErrorBoundaryMiddleware(BaseMiddleware):
    """Logs a failed update with its id and tells the user, in their language, that it failed.

    Not re-raised: aiogram would only log it again, and Telegram must not redeliver it.
    """

    def __init__(self, translator: Translator) -> None:
        self.translator = translator

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        try:
            return await handler(event, data)
        except Exception:
            log.exception("update %s (%s) failed", event.update_id, event.event_type)
            await self._apologise(event, data)
            return None

    async def _apologise(self, update: Update, data: dict[str, Any]) -> None:
        bot: Bot | None = data.get("bot")
        user: User | None = data.get("event_from_user")
        i18n = view(data).get("i18n")
        locale = (
            i18n.locale
            if i18n
            else self.translator.resolve_locale(user.language_code if user else None)
        )
        text = self.translator.get(locale, "error-generic")
        try:
            if update.callback_query is not None:
                await update.callback_query.answer(text, show_alert=True)
            elif update.message is not None and bot is not None:
                await bot.send_message(
                    update.message.chat.id,
                    text,
                    message_thread_id=update.message.message_thread_id
                    if update.message.is_topic_message
                    else None,
                )
        except Exception:
            log.warning("could not apologise for update %s", update.update_id, exc_info=True)
