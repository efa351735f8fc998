"""The presenter's ``Sender`` port over the Bot API (`services.ports.StreamSender`, aiogram's
``Bot`` in production): Telegram's errors become the port's.

Pacing and 429s are the send budget's (``bot/sendbudget.py``, a request middleware on the bot).
"""

from __future__ import annotations

from aiogram.enums import ChatAction, ParseMode
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import InlineKeyboardMarkup, ReplyParameters

from services.ai.stream import EntitiesRejected, Markup
from services.ports import StreamSender


def _entities_error(exc: TelegramBadRequest) -> bool:
    text = exc.message.lower()
    return "parse entities" in text or "entity" in text or "unsupported start tag" in text


def _keyboard(markup: Markup | None) -> InlineKeyboardMarkup | None:
    return markup if isinstance(markup, InlineKeyboardMarkup) else None


class BotSender:
    def __init__(self, bot: StreamSender, *, can_stop: bool = True) -> None:
        self.bot = bot
        self.can_stop = can_stop

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
        except TelegramBadRequest as exc:
            if html and _entities_error(exc):
                raise EntitiesRejected(exc.message) from exc
            raise
        return message.message_id

    async def edit_message(
        self, chat_id: int, message_id: int, text: str, *, html: bool, markup: Markup | None
    ) -> None:
        try:
            await self.bot.edit_message_text(
                chat_id=chat_id,
                message_id=message_id,
                text=text,
                parse_mode=ParseMode.HTML if html else None,
                reply_markup=_keyboard(markup),
            )
        except TelegramBadRequest as exc:
            if "not modified" in exc.message.lower():
                return
            if html and _entities_error(exc):
                raise EntitiesRejected(exc.message) from exc
            raise

    async def send_chat_action(self, chat_id: int, *, thread_id: int | None) -> None:
        await self.bot.send_chat_action(
            chat_id=chat_id, action=ChatAction.TYPING, message_thread_id=thread_id
        )
