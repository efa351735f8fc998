"""The button that takes a group member to the private chat with the bot."""

from __future__ import annotations

from aiogram import Bot
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.deep_linking import create_start_link
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import I18n

# `/start help` in the private chat: the first contact there is the ordinary greeting.
START_PAYLOAD = "help"


async def open_private_keyboard(bot: Bot, i18n: I18n) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=i18n("group-button-private"), url=await create_start_link(bot, START_PAYLOAD)
    )
    return builder.as_markup()
