"""Deleting a message that carries a secret (an API key, a secret OpenPGP key).

Every such deletion is checked: Telegram refuses it where the bot may not delete other people's
messages (a plain member of a group) or after 48 hours. The caller must then say that the
message is still there and that the secret is to be treated as exposed, never claim it is gone.
"""

from __future__ import annotations

import logging

from aiogram.exceptions import TelegramAPIError
from aiogram.types import Message

log = logging.getLogger(__name__)


async def delete_secret(message: Message) -> bool:
    """Delete ``message``; True when it is gone, False when Telegram refused."""
    try:
        await message.delete()
    except TelegramAPIError as exc:
        # What Telegram said, never the message itself: it holds the secret.
        log.info("a message with a secret could not be deleted: %s", exc.message)
        return False
    return True
