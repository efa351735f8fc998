"""Commands in a group that no group feature took: `/start` and `/help` say what the bot does
here, the private-chat commands (`/balance`, `/language`, …) point to the private chat with a
button, and an unknown command addressed to the bot (`/foo@bot`) says so. Nothing personal is
shown in the group: a balance or a setting is the user's own business.

Goes last among the group routers (handlers/__init__.py): `/start <token>` (the log group's
binding), `/new`, `/ask`, `/apikey` and the room commands are taken before.
"""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import Message

from bot.commands import COMMANDS
from bot.i18n import I18n
from keyboards.groups import open_private_keyboard

# Taken in groups by their own feature routers (chat, rooms, AI settings).
GROUP_COMMANDS = frozenset({"new", "apikey"})
# The rest of the private menu, except /start and /help which are answered here.
PRIVATE_ONLY = tuple(c for c in COMMANDS if c not in GROUP_COMMANDS | {"start", "help"})
# A command is at most 32 characters on Telegram; a typed one can be any length.
MAX_SHOWN = 40


async def group_help(message: Message, bot: Bot, i18n: I18n) -> None:
    me = await bot.me()
    await message.answer(
        i18n("group-help", bot=me.username or ""),
        reply_markup=await open_private_keyboard(bot, i18n),
    )


async def private_only(message: Message, command: CommandObject, bot: Bot, i18n: I18n) -> None:
    await message.answer(
        i18n("group-command-private", command="/" + command.command),
        reply_markup=await open_private_keyboard(bot, i18n),
    )


async def addressed_to_me(message: Message, bot: Bot) -> dict[str, str] | bool:
    """A `/command@this_bot` message: only then is an unknown command ours to answer (a plain
    `/foo` in a group may be for another bot)."""
    first = (message.text or "").split(maxsplit=1)[0] if message.text else ""
    name, at, mention = first.partition("@")
    if not name.startswith("/") or not at:
        return False
    me = await bot.me()
    if mention.lower() != (me.username or "").lower():
        return False
    shown = name if len(name) <= MAX_SHOWN else name[: MAX_SHOWN - 1] + "…"
    return {"unknown_command": shown}


async def unknown_command(message: Message, unknown_command: str, bot: Bot, i18n: I18n) -> None:
    await message.answer(
        i18n("group-command-unknown", command=unknown_command),
        reply_markup=await open_private_keyboard(bot, i18n),
    )


def setup() -> Router:
    router = Router(name="group-commands")
    router.message.register(group_help, CommandStart())
    router.message.register(group_help, Command("help"))
    router.message.register(private_only, Command(*PRIVATE_ONLY))
    router.message.register(unknown_command, addressed_to_me)
    return router
