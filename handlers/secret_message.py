"""Deleting a message that carries a secret (an API key, a secret OpenPGP key).

Every such deletion is checked: Telegram refuses it where the bot may not delete other people's
messages (a plain member of a group) or after 48 hours. The caller must then say that the
message is still there and that the secret is to be treated as exposed, never claim it is gone.
"""

from __future__ import annotations

import logging

from aiogram.enums import ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.types import ChatMemberAdministrator, ChatMemberOwner, Message

log = logging.getLogger(__name__)


async def may_delete(message: Message) -> bool:
    """Whether the bot may delete other people's messages here: always in a private chat, in a
    group only as an administrator with that right (asked, so that a deletion Telegram would
    refuse is not even tried)."""
    if message.chat.type == ChatType.PRIVATE or message.bot is None:
        return True
    try:
        me = await message.bot.get_chat_member(message.chat.id, message.bot.id)
    except TelegramAPIError as exc:
        log.info("could not check the right to delete: %s", exc.message)
        return True  # try: the deletion's own answer decides
    if isinstance(me, ChatMemberOwner):
        return True
    return isinstance(me, ChatMemberAdministrator) and me.can_delete_messages


async def delete_secret(message: Message) -> bool:
    """Delete ``message``; True when it is gone, False when Telegram refused (or would)."""
    if not await may_delete(message):
        log.info("a message with a secret cannot be deleted here: the bot lacks the right")
        return False
    try:
        await message.delete()
    except TelegramAPIError as exc:
        # What Telegram said, never the message itself: it holds the secret.
        log.info("a message with a secret could not be deleted: %s", exc.message)
        return False
    return True
