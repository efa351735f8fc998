"""Last resort: whatever no feature router took gets a helpful answer, never silence or an error."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.types import CallbackQuery, Message

from bot.i18n import I18n, preview

# Telegram's commands are at most 32 characters; a longer "command" is echoed cut short, so the
# answer stays far below the 4,096-character message limit.
COMMAND_ECHO = 64


async def expired_button(query: CallbackQuery, i18n: I18n) -> None:
    # A button from an old keyboard, or one whose data no longer parses.
    await query.answer(i18n("error-button-expired"), show_alert=True)


async def unknown_command(message: Message, i18n: I18n) -> None:
    command = (message.text or "").split()[0]
    await message.answer(i18n("error-unknown-command", command=preview(command, COMMAND_ECHO)))


async def plain_text(message: Message, i18n: I18n) -> None:
    await message.answer(i18n("error-text-not-understood"))


async def unsupported(message: Message, i18n: I18n) -> None:
    await message.answer(i18n("error-unsupported-message"))


def setup() -> Router:
    router = Router(name="fallback")
    router.callback_query.register(expired_button)
    private = F.chat.type == ChatType.PRIVATE
    router.message.register(unknown_command, private, F.text.startswith("/"))
    router.message.register(plain_text, private, F.text)
    router.message.register(unsupported, private)
    return router
