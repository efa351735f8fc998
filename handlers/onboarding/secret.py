"""The secret-key guard: a secret key sent at any time, in any form, is deleted from the chat.

It runs before every other private-chat router (an operator prompt or the AI chat must never
take a secret key): pasted or edited text, a caption, or a file of any name (`.asc`, `.sec`,
`.txt`, no extension, binary or armored). Telegram keeps bot chats in its cloud, so when the
deletion fails the user is told to delete it and to treat the key as exposed. Files also reach
the key flow from here: a file named as a key (or any file while the bot waits for a key) is
read once and handed to `take_key`; any other file is read only for that secret check.
"""

from __future__ import annotations

import io

from aiogram import Bot, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.types import Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import User
from bot.i18n import I18n
from handlers.onboarding.key import SECRET_MARKERS, looks_secret, refuse_secret, take_key
from services.crypto.service import CryptoService
from services.logserver import LogServerService

# Files named like this are read as a key whatever the bot is waiting for.
KEY_FILE_SUFFIXES = (".asc", ".gpg", ".pgp", ".pub", ".key")
KEY_MIME_TYPES = frozenset({"application/pgp-keys", "application/pgp-encrypted"})


def _has_secret_marker(text: str | None) -> bool:
    return text is not None and any(marker in text for marker in SECRET_MARKERS)


# Filters are coroutines: aiogram runs plain callables (and magic filters) in a thread.
async def holds_secret_marker(message: Message) -> bool:
    return _has_secret_marker(message.text) or _has_secret_marker(message.caption)


async def has_document(message: Message) -> bool:
    return message.document is not None


async def secret_text(message: Message, i18n: I18n) -> None:
    await refuse_secret(message, i18n)


async def document(
    message: Message,
    bot: Bot,
    user: User,
    session: AsyncSession,
    i18n: I18n,
    logserver: LogServerService,
    crypto: CryptoService,
) -> None:
    doc = message.document
    assert doc is not None
    name = (doc.file_name or "").lower()
    named_key = name.endswith(KEY_FILE_SUFFIXES) or doc.mime_type in KEY_MIME_TYPES
    if doc.file_size is not None and doc.file_size > crypto.settings.max_key_bytes:
        if named_key:
            await message.answer(i18n("logserver-key-too-large"))
            return
        raise SkipHandler  # too large to be a key: not ours
    buffer = io.BytesIO()
    await bot.download(doc, destination=buffer)
    raw = buffer.getvalue()
    if looks_secret(raw, crypto):
        await refuse_secret(message, i18n)
        return
    # Read as a key only while one is expected, or when the file is named as one (it gets "not
    # waiting for a key"). Any other file (`notes.txt`, even one that quotes a public key block)
    # was read for the secret check above and nothing else.
    if named_key or await logserver.expecting_key(session, user.id) is not None:
        await take_key(message, raw, bot, user, session, i18n, logserver, crypto)
        return
    raise SkipHandler  # some other file, while no key is expected: not ours


def setup() -> Router:
    router = Router(name="secret-key-guard")
    router.message.register(secret_text, holds_secret_marker)
    router.edited_message.register(secret_text, holds_secret_marker)
    router.message.register(document, has_document)
    return router
