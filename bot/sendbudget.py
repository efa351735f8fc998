"""The send budget as an aiogram request middleware: every Bot API call of the process passes here.

Installed once on the bot's session in ``bot/app.py`` (``bot.session.middleware(...)``), so no
feature paces its sends or catches ``TelegramRetryAfter`` itself:

* Counted calls (messages and edits, the methods Telegram's flood limits count) wait for a slot
  in ``services.sendbudget.SendBudget`` at the caller's priority
  (``services.sendbudget.send_priority``; replies are ``HIGH`` by default).
* On 429 the chat is blocked for ``retry_after`` in the shared budget (every instance waits) and
  the call is sent again, up to ``max_retry_wait`` seconds of waiting in all. A 429 means Telegram
  did not perform the call, so sending it again never duplicates anything.
* Not retried: ``getUpdates`` (the polling loop has its own back-off, and a held long poll would
  stall it) and ``close``/``logOut``. Answers to queries (``answerCallbackQuery``,
  ``answerPreCheckoutQuery`` ...) are retried only within ``DEADLINE_WAIT``: Telegram stops
  waiting for them after a few seconds (10 s for a pre-checkout query).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods.base import TelegramType

from services.sendbudget import SendBudget, current_priority

if TYPE_CHECKING:
    from aiogram import Bot
    from aiogram.methods import Response, TelegramMethod

log = logging.getLogger(__name__)

# What Telegram's flood limits count as "a message" (edits count too).
COUNTED = frozenset(
    {
        "sendMessage",
        "sendDocument",
        "sendPhoto",
        "sendAudio",
        "sendVideo",
        "sendAnimation",
        "sendVoice",
        "sendVideoNote",
        "sendSticker",
        "sendMediaGroup",
        "sendInvoice",
        "sendPoll",
        "sendDice",
        "sendLocation",
        "sendVenue",
        "sendContact",
        "sendPaidMedia",
        "copyMessage",
        "copyMessages",
        "forwardMessage",
        "forwardMessages",
        "editMessageText",
        "editMessageCaption",
        "editMessageMedia",
        "editMessageReplyMarkup",
        "editMessageLiveLocation",
        "stopMessageLiveLocation",
        "stopPoll",
    }
)
NOT_RETRIED = frozenset({"getUpdates", "close", "logOut"})
DEADLINE_WAIT = 3.0
WITH_DEADLINE = frozenset(
    {
        "answerCallbackQuery",
        "answerPreCheckoutQuery",
        "answerShippingQuery",
        "answerInlineQuery",
        "answerWebAppQuery",
    }
)


class SendBudgetMiddleware(BaseRequestMiddleware):
    def __init__(self, budget: SendBudget) -> None:
        self.budget = budget

    def max_wait(self, name: str) -> float:
        if name in NOT_RETRIED:
            return 0.0
        if name in WITH_DEADLINE:
            return min(DEADLINE_WAIT, self.budget.settings.max_retry_wait)
        return self.budget.settings.max_retry_wait

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        name = method.__api_method__
        if name == "getUpdates":  # the long poll: nothing to pace, never retried here
            return await make_request(bot, method)
        with self.budget.call():
            return await self._send(make_request, bot, method, name)

    async def _send(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
        name: str,
    ) -> Response[TelegramType]:
        chat_id = getattr(method, "chat_id", None) if name in COUNTED else None
        if not isinstance(chat_id, int | str):
            chat_id = None
        priority = current_priority()
        waited = 0.0
        while True:
            ticket = await self.budget.acquire(chat_id, priority) if chat_id is not None else None
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                seconds = float(exc.retry_after)
                if waited + seconds > self.max_wait(name):
                    self.budget.stats.gave_up += 1
                    raise
                waited += seconds
                self.budget.stats.retried += 1
                log.info("429 on %s: sent again in %s s", name, exc.retry_after)
                target = getattr(method, "chat_id", None)
                if isinstance(target, int | str):
                    await self.budget.block(target, seconds)
                if chat_id is None:
                    await asyncio.sleep(seconds)  # not queued in the budget: wait here
            finally:
                if ticket is not None:
                    await self.budget.release(ticket)
