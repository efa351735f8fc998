"""First contact: /start, /help, /language, /privacy."""

from __future__ import annotations

import logging

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandStart
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.commands import COMMANDS
from bot.db.models import User
from bot.i18n import I18n, Translator
from keyboards.language import LanguageAction, LanguageCD, language_keyboard
from services import users
from services.logserver import LogServerService

log = logging.getLogger(__name__)


async def start(message: Message, i18n: I18n) -> None:
    name = message.from_user.first_name if message.from_user else ""
    await message.answer(i18n("start-greeting", name=name), reply_markup=language_keyboard(i18n))


async def show_help(message: Message, i18n: I18n) -> None:
    lines = [f"/{name} — {i18n(f'cmd-{name}')}" for name in COMMANDS]
    await message.answer(i18n("help-text", commands="\n".join(lines)))


async def choose_language(message: Message, i18n: I18n) -> None:
    await message.answer(i18n("language-prompt"), reply_markup=language_keyboard(i18n))


async def set_language(
    query: CallbackQuery,
    callback_data: LanguageCD,
    session: AsyncSession,
    user: User,
    i18n: I18n,
    translator: Translator,
    logserver: LogServerService,
) -> None:
    if callback_data.locale not in translator.locales:
        await query.answer(i18n("error-button-expired"), show_alert=True)
        return
    # Stored already and shown already: a repeated press. Telegram would refuse the same edit
    # ("message is not modified"), so only the press is answered.
    repeated = user.locale == callback_data.locale
    # Committed: confirm only what is stored.
    await users.set_locale(session, user, callback_data.locale, audit=logserver)
    i18n = translator.for_locale(callback_data.locale)
    await query.answer(i18n("language-changed"))
    message = query.message
    if message is not None and isinstance(message, Message):
        text = i18n("language-changed-long")
        if repeated and message.text == text:
            return
        try:
            await message.edit_text(text, reply_markup=language_keyboard(i18n))
        except TelegramBadRequest as exc:
            # Two presses at once: the other one has just made the same edit.
            if "not modified" not in exc.message.lower():
                raise
            log.info("language picker already shows %s", callback_data.locale)


async def privacy(message: Message, i18n: I18n) -> None:
    await message.answer(i18n("privacy-summary"))


def setup() -> Router:
    router = Router(name="start")
    router.message.register(start, CommandStart())
    router.message.register(show_help, Command("help"))
    router.message.register(choose_language, Command("language"))
    router.message.register(privacy, Command("privacy"))
    router.callback_query.register(set_language, LanguageCD.filter(F.action == LanguageAction.SET))
    return router
