"""The presenter's ``Sender`` port over aiogram's ``Bot``: Telegram's errors become the port's."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from aiogram import Bot
from aiogram.enums import ChatAction, ParseMode
from aiogram.exceptions import TelegramBadRequest, TelegramRetryAfter
from aiogram.types import InlineKeyboardMarkup, ReplyParameters

from services.ai.stream import EntitiesRejected, Markup, RetryAfter


def _entities_error(exc: TelegramBadRequest) -> bool:
    text = exc.message.lower()
    return "parse entities" in text or "entity" in text or "unsupported start tag" in text


def _keyboard(markup: Markup | None) -> InlineKeyboardMarkup | None:
    return markup if isinstance(markup, InlineKeyboardMarkup) else None


class SendLimiter:
    """A token bucket shared by every reply of the process: Telegram allows about 30 messages a
    second overall (edits count), so many replies finishing at once queue here briefly instead of
    drawing 429s. Drafts are not counted (they are Telegram's streaming channel)."""

    def __init__(
        self,
        rate: float,
        burst: int | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.rate = rate
        self.burst = float(burst if burst is not None else max(1, int(rate)))
        self._tokens = self.burst
        self._updated = clock()
        self._clock = clock
        self._sleep = sleep
        self._lock = asyncio.Lock()
        self.waited = 0

    async def acquire(self) -> None:
        async with self._lock:  # first come, first served
            while True:
                now = self._clock()
                self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
                self._updated = now
                if self._tokens >= 1 - 1e-9:  # float rounding must not starve a sender
                    self._tokens = max(0.0, self._tokens - 1)
                    return
                self.waited += 1
                await self._sleep(max(0.001, (1 - self._tokens) / self.rate))


class BotSender:
    def __init__(
        self, bot: Bot, *, can_stop: bool = True, limiter: SendLimiter | None = None
    ) -> None:
        self.bot = bot
        self.can_stop = can_stop
        self.limiter = limiter

    async def send_draft(
        self, chat_id: int, draft_id: int, text: str, *, html: bool, thread_id: int | None
    ) -> None:
        try:
            await self.bot.send_message_draft(
                chat_id=chat_id,
                draft_id=draft_id,
                text=text,
                parse_mode=ParseMode.HTML if html else None,
                message_thread_id=thread_id,
                can_stop=self.can_stop,
            )
        except TelegramRetryAfter as exc:
            raise RetryAfter(exc.retry_after) from exc
        except TelegramBadRequest as exc:
            if html and _entities_error(exc):
                raise EntitiesRejected(exc.message) from exc
            raise

    async def send_message(
        self,
        chat_id: int,
        text: str,
        *,
        html: bool,
        thread_id: int | None,
        reply_to: int | None,
        markup: Markup | None,
    ) -> int:
        if self.limiter is not None:
            await self.limiter.acquire()
        try:
            message = await self.bot.send_message(
                chat_id=chat_id,
                text=text,
                parse_mode=ParseMode.HTML if html else None,
                message_thread_id=thread_id,
                reply_parameters=(
                    ReplyParameters(message_id=reply_to, allow_sending_without_reply=True)
                    if reply_to is not None
                    else None
                ),
                reply_markup=_keyboard(markup),
            )
        except TelegramRetryAfter as exc:
            raise RetryAfter(exc.retry_after) from exc
        except TelegramBadRequest as exc:
            if html and _entities_error(exc):
                raise EntitiesRejected(exc.message) from exc
            raise
        return message.message_id

    async def edit_message(
        self, chat_id: int, message_id: int, text: str, *, html: bool, markup: Markup | None
    ) -> None:
        if self.limiter is not None:
            await self.limiter.acquire()
        try:
            await self.bot.edit_message_text(
                chat_id=chat_id,
                message_id=message_id,
                text=text,
                parse_mode=ParseMode.HTML if html else None,
                reply_markup=_keyboard(markup),
            )
        except TelegramRetryAfter as exc:
            raise RetryAfter(exc.retry_after) from exc
        except TelegramBadRequest as exc:
            if "not modified" in exc.message.lower():
                return
            if html and _entities_error(exc):
                raise EntitiesRejected(exc.message) from exc
            raise

    async def send_chat_action(self, chat_id: int, *, thread_id: int | None) -> None:
        try:
            await self.bot.send_chat_action(
                chat_id=chat_id, action=ChatAction.TYPING, message_thread_id=thread_id
            )
        except TelegramRetryAfter as exc:
            raise RetryAfter(exc.retry_after) from exc
