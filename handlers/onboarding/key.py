"""The user's public key: the prompt (with the Mini App that makes a key on the user's device),
a pasted or sent public key, and linking it (the Mini App's keygen route links the same way)."""

from __future__ import annotations

import logging
from functools import partial

from aiogram import Bot, Router
from aiogram.types import InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import User
from bot.db.models.logserver import LogServer, LogServerState
from bot.i18n import I18n
from bot.settings import Settings
from handlers.onboarding.finish import finish_setup, refresh_panel
from handlers.secret_message import delete_secret
from keyboards.logserver import key_choice_keyboard
from services.crypto import KeyErrorKind, KeyImportError, KeyInfo
from services.crypto.port import format_fingerprint
from services.crypto.service import CryptoService
from services.logserver import LogServerService, actions

log = logging.getLogger(__name__)

ARMOR = "-----BEGIN PGP "
SECRET_MARKERS = ("PGP PRIVATE KEY BLOCK", "PGP SECRET KEY BLOCK")
KEYGEN_PAGE = "keygen"


def key_prompt(
    i18n: I18n, settings: Settings, *, rotate: bool = False
) -> tuple[str, InlineKeyboardMarkup | None]:
    """Ask for a public key; with a public Mini App URL, offer to make one on the device."""
    url = settings.webapp.page_url(KEYGEN_PAGE)
    key = "logserver-rotate-prompt" if rotate else "logserver-key-prompt"
    text = i18n(key)
    if url is None:
        return text, None
    return text + "\n" + i18n("keygen-offer"), key_choice_keyboard(i18n, url)


def looks_secret(raw: bytes, crypto: CryptoService) -> bool:
    """True for an OpenPGP secret key, armored or binary, whatever it was called."""
    text = raw.decode("utf-8", errors="replace")
    if any(marker in text for marker in SECRET_MARKERS):
        return True
    try:
        crypto.engine.inspect_public_key(raw)
    except KeyImportError as exc:
        return exc.kind is KeyErrorKind.SECRET_KEY
    return False


async def refuse_secret(message: Message, i18n: I18n) -> None:
    """Delete a message that holds a secret key; if that fails, say so and to revoke the key."""
    deleted = await delete_secret(message)
    key = "logserver-key-secret-refused" if deleted else "logserver-key-secret-not-deleted"
    await message.answer(i18n(key))


async def key_text(
    message: Message,
    bot: Bot,
    user: User,
    session: AsyncSession,
    i18n: I18n,
    logserver: LogServerService,
    crypto: CryptoService,
) -> None:
    raw = (message.text or "").encode()
    await take_key(message, raw, bot, user, session, i18n, logserver, crypto)


async def take_key(
    message: Message,
    raw: bytes,
    bot: Bot,
    user: User,
    session: AsyncSession,
    i18n: I18n,
    logserver: LogServerService,
    crypto: CryptoService,
) -> None:
    """A public key sent as text or file: link it, or say what is wrong with it."""
    if looks_secret(raw, crypto):
        await refuse_secret(message, i18n)
        return
    server = await logserver.expecting_key(session, user.id)
    if server is None:
        await message.answer(i18n("logserver-key-not-expected"))
        return
    try:
        info = crypto.engine.inspect_public_key(raw)
    except KeyImportError as exc:
        await message.answer(i18n(f"logserver-key-{exc.kind.value}"))
        return
    await accept_key(bot, session, logserver, i18n, server, info)


async def accept_key(
    bot: Bot,
    session: AsyncSession,
    logserver: LogServerService,
    i18n: I18n,
    server: LogServer,
    info: KeyInfo,
) -> None:
    """Link ``info`` as the log server's key: finish the setup or record the rotation."""
    fingerprint = format_fingerprint(info.fingerprint)
    accepted = i18n("logserver-key-accepted", fingerprint=fingerprint)
    _, title = logserver.chat_of(server)
    if server.state is LogServerState.AWAITING_KEY:
        # The first key: stored once the topics exist (see `complete_setup`), even if a later
        # step fails ("check again" completes it).
        store = partial(logserver.set_key, session, server, info)
        setup = await finish_setup(bot, session, logserver, server, i18n, activate=store)
        if setup.ok:
            done = i18n("logserver-setup-done", title=title)
            await bot.send_message(server.user_id, accepted + "\n\n" + done)
        return
    await actions.rotate_key(session, logserver, server, info)
    await bot.send_message(server.user_id, accepted)
    await refresh_panel(bot, session, logserver, server, i18n)


async def holds_armor(message: Message) -> bool:
    return message.text is not None and ARMOR in message.text


def setup() -> Router:
    router = Router(name="onboarding-key")
    # Files are taken by the secret-key guard (handlers/onboarding/secret.py), which reads them
    # once and hands public keys to take_key.
    router.message.register(key_text, holds_armor)
    return router
