"""The command menu and bot descriptions, set per language at start-up.

A feature that adds a private-chat command adds a line to `COMMANDS`; the description comes from
the catalogue key `cmd-<command>`.
"""

from __future__ import annotations

from aiogram import Bot
from aiogram.types import BotCommand, BotCommandScopeAllPrivateChats

from bot.i18n import Translator

COMMANDS: tuple[str, ...] = (
    "start",
    "help",
    "language",
    "privacy",
    "model",
    "new",
    "persona",
    "personas",
    "end",
    "balance",
    "usage",
    "apikey",
    "logserver",
    "buy",
    "subscription",
    "paysupport",
    "terms",
    "serverkey",
    "forget",
)


def menu(translator: Translator, locale: str) -> list[BotCommand]:
    return [
        BotCommand(command=name, description=translator.get(locale, f"cmd-{name}"))
        for name in COMMANDS
    ]


async def publish(bot: Bot, translator: Translator) -> None:
    scope = BotCommandScopeAllPrivateChats()
    for locale in translator.locales:
        await bot.set_my_commands(menu(translator, locale), scope=scope, language_code=locale)
        await bot.set_my_description(
            translator.get(locale, "bot-description"), language_code=locale
        )
        await bot.set_my_short_description(
            translator.get(locale, "bot-short-description"), language_code=locale
        )
    # Clients whose language we do not speak get the default locale.
    default = translator.default_locale
    await bot.set_my_commands(menu(translator, default), scope=scope)
    await bot.set_my_description(translator.get(default, "bot-description"))
    await bot.set_my_short_description(translator.get(default, "bot-short-description"))
