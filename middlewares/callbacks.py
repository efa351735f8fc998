"""One parse-and-validate step for every button press, before any handler sees it.

A press carries data the client sent: it can be forged (any client can send any data for any
of the bot's messages), stale (an old keyboard) or garbled. Before a handler runs:

- data under one of our prefixes must unpack into its `CallbackData` class, every integer must
  fit PostgreSQL's bigint and every text field must be printable ASCII (all we ever pack);
- outside the presser's own private chat with the bot, the press must come from a message
  that carries that very button, so forged data cannot act on (or rewrite) a message others
  see. In their private chat every message of the bot is theirs: a stale button there (an
  edited keyboard, a double tap) reaches its handler, which re-checks everything on the server
  and answers in its own words.

Anything else gets the "expired button" alert and touches nothing. A repeated press whose edit
Telegram refuses as "message is not modified" is done already: it is answered quietly.

Which presses were answered is tracked per update (`AnswerTracker`, on the Bot session), so
that the error boundary can still tell the user something when a handler fails after answering
(Telegram refuses a second answer).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from aiogram import BaseMiddleware
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters.callback_data import CallbackData
from aiogram.methods import AnswerCallbackQuery, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import CallbackQuery, Message, TelegramObject

from middlewares.data import view

if TYPE_CHECKING:
    from aiogram import Bot
    from aiogram.methods import Response

log = logging.getLogger(__name__)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
NOT_MODIFIED = "message is not modified"

# The callback query ids answered while handling the current update (set by `track_answers`).
_answered: ContextVar[set[str] | None] = ContextVar("libral_answered_queries", default=None)


@contextlib.contextmanager
def track_answers() -> Iterator[None]:
    """Within this block, `was_answered` knows which presses the bot answered."""
    token = _answered.set(set())
    try:
        yield
    finally:
        _answered.reset(token)


def was_answered(query_id: str) -> bool:
    answered = _answered.get()
    return answered is not None and query_id in answered


class AnswerTracker(BaseRequestMiddleware):
    """A Bot session middleware: notes every answerCallbackQuery that Telegram accepted."""

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        response = await make_request(bot, method)
        # Reached only when Telegram accepted it (a refusal raises).
        if isinstance(method, AnswerCallbackQuery):
            answered = _answered.get()
            if answered is not None:
                answered.add(method.callback_query_id)
        return response


def _fields_valid(unpacked: CallbackData) -> bool:
    for name in type(unpacked).model_fields:
        value = getattr(unpacked, name)
        if isinstance(value, bool):
            continue
        if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
            return False
        if isinstance(value, str) and not (value.isascii() and value.isprintable()):
            return False
    return True


def parse(family: type[CallbackData], data: str) -> CallbackData | None:
    """``data`` unpacked and range-checked, or None when it is not valid for ``family``."""
    if not (data.isascii() and data.isprintable()):
        return None
    try:
        unpacked = family.unpack(data)
    except (TypeError, ValueError):  # pydantic's ValidationError is a ValueError
        return None
    return unpacked if _fields_valid(unpacked) else None


def carries_button(message: Message, data: str) -> bool:
    """True when ``message`` (as Telegram delivered it with the press) has a button with
    exactly this callback data."""
    markup = message.reply_markup
    if markup is None:
        return False
    return any(button.callback_data == data for row in markup.inline_keyboard for button in row)


def _own_private_chat(query: CallbackQuery, message: Message) -> bool:
    return message.chat.type == ChatType.PRIVATE and message.chat.id == query.from_user.id


class CallbackGuard(BaseMiddleware):
    """An outer middleware on `callback_query`: the validation described in the module doc."""

    def __init__(self, families: Iterable[type[CallbackData]]) -> None:
        self.families: dict[str, type[CallbackData]] = {}
        for family in families:
            self.families[family.__prefix__] = family
        self.separators = {family.__separator__ for family in self.families.values()}

    def family_of(self, data: str) -> type[CallbackData] | None:
        for separator in self.separators:
            family = self.families.get(data.split(separator, 1)[0])
            if family is not None and family.__separator__ == separator:
                return family
        return None

    def refuse_reason(self, query: CallbackQuery) -> str | None:
        data = query.data
        if not data:
            return None
        family = self.family_of(data)
        if family is None:
            return None  # not ours (an older release's prefix): the fallback answers it
        if parse(family, data) is None:
            return "malformed"
        # An inaccessible message (older than 48 hours) or an inline message has no markup to
        # check against; handlers re-check everything on the server anyway.
        message = query.message
        if not isinstance(message, Message) or _own_private_chat(query, message):
            return None
        if not carries_button(message, data):
            return "not on its message"
        return None

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, CallbackQuery)
        reason = self.refuse_reason(event)
        if reason is not None:
            log.info("callback %s refused: %s", event.id, reason)
            i18n = view(data).get("i18n")
            await event.answer(i18n("error-button-expired") if i18n else None, show_alert=True)
            return None
        try:
            return await handler(event, data)
        except TelegramBadRequest as exc:
            if NOT_MODIFIED not in exc.message:
                raise
            # A repeated press: the message already shows what the press asked for.
            log.info("callback %s: message not modified (a repeated press)", event.id)
            if not was_answered(event.id):
                await event.answer()
            return None
