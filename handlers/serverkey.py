"""/serverkey: the server's public signing key and its fingerprint, to verify records."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import BufferedInputFile, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import I18n
from services.crypto import server_keys
from services.crypto.port import format_fingerprint


async def show_server_key(message: Message, session: AsyncSession, i18n: I18n) -> None:
    keys = await server_keys.published_keys(session)
    current = next((k for k in keys if k.active), None)
    if current is None:
        await message.answer(i18n("crypto-serverkey-missing"))
        return
    text = i18n(
        "crypto-serverkey",
        fingerprint=format_fingerprint(current.fingerprint),
        created=current.created_at.strftime("%Y-%m-%d %H:%M UTC"),
    )
    older = [format_fingerprint(k.fingerprint) for k in keys if not k.active]
    if older:
        text += "\n\n" + i18n("crypto-serverkey-old", fingerprints="\n".join(older))
    await message.answer(text)
    short = current.fingerprint[-16:]
    await message.answer_document(
        BufferedInputFile(current.public_key.encode(), filename=f"libral-server-{short}.asc"),
        caption=i18n("crypto-serverkey-caption", short=short),
    )


def setup() -> Router:
    router = Router(name="serverkey")
    router.message.register(show_server_key, Command("serverkey"))
    return router
