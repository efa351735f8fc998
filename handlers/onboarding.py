"""Setting up the personal log server in private chat: /logserver, the group picker
(`chat_shared`), the public key (text, file or generated) and the status panel."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import secrets
from collections.abc import Iterable

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.filters import Command
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InaccessibleMessage,
    InlineKeyboardMarkup,
    Message,
    ReplyKeyboardRemove,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import User
from bot.db.models.logserver import LogServer, LogServerState
from bot.i18n import I18n
from keyboards.logserver import (
    REQUEST_GROUP,
    SetupAction,
    SetupCD,
    key_choice_keyboard,
    key_saved_keyboard,
    panel_keyboard,
    pick_group_keyboard,
    startgroup_keyboard,
    status_keyboard,
)
from services import users
from services.crypto import KeyErrorKind, KeyImportError, KeyInfo
from services.crypto.port import format_fingerprint
from services.crypto.service import CryptoService
from services.logserver import AlreadyLinked, LogServerService, RecordKind
from services.logserver.onboarding import (
    check_group,
    ensure_topics,
    missing_topics,
    post_panel,
    startgroup_admin_param,
)
from services.logserver.types import CheckReport

log = logging.getLogger(__name__)

_ARMOR = "-----BEGIN PGP "
_SECRET_MARKERS = (b"PGP PRIVATE KEY BLOCK", b"PGP SECRET KEY BLOCK")
_KEY_FILE_SUFFIXES = (".asc", ".gpg", ".pgp", ".pub", ".key", ".txt")
_PASSPHRASE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


# ---------------------------------------------------------------------- rendering (shared)


def _rights_text(i18n: I18n, rights: Iterable[str]) -> str:
    return ", ".join(i18n(f"logserver-right-{r.replace('_', '-')}") for r in rights)


def render_report(i18n: I18n, report: CheckReport) -> str:
    """Every problem and warning of a check, each with how to fix it."""
    lines: list[str] = []
    for problem in report.problems:
        rights = _rights_text(i18n, report.missing_rights)
        lines.append(i18n(f"logserver-check-{problem.value}", rights=rights))
    for warning in report.warnings:
        extra = _rights_text(i18n, report.extra_rights)
        lines.append(
            i18n(f"logserver-warn-{warning.value}", count=report.other_members, rights=extra)
        )
    return "\n\n".join(lines)


def _with_warnings(i18n: I18n, text: str, report: CheckReport) -> str:
    """`text`, followed by the check's warnings (if any) and how to fix them."""
    if report.warnings:
        text += "\n\n" + render_report(i18n, report)
    return text


def topic_names(i18n: I18n) -> dict[RecordKind, str]:
    return {kind: i18n(f"logserver-topic-{kind.value}") for kind in RecordKind}


def panel_text(i18n: I18n, server: LogServer) -> str:
    state = i18n(f"logserver-state-{server.state.value.replace('_', '-')}")
    fingerprint = format_fingerprint(server.key_fingerprint) if server.key_fingerprint else "—"
    return i18n("logserver-panel", state=state, fingerprint=fingerprint)


def _server_panel_keyboard(i18n: I18n, server: LogServer) -> InlineKeyboardMarkup:
    return panel_keyboard(i18n, paused=server.state is LogServerState.PAUSED)


async def status_text(
    i18n: I18n, session: AsyncSession, logserver: LogServerService, user_id: int
) -> str | None:
    status = await logserver.status(session, user_id)
    if status is None:
        return None
    names = topic_names(i18n)
    topics = ", ".join(names[k] for k, thread in status.topics.items() if thread is not None) or "—"
    last = (
        status.last_delivery_at.strftime("%Y-%m-%d %H:%M UTC")
        if status.last_delivery_at
        else i18n("logserver-never")
    )
    text = i18n(
        "logserver-status",
        title=status.title,
        state=i18n(f"logserver-state-{status.state.replace('_', '-')}"),
        fingerprint=format_fingerprint(status.fingerprint) if status.fingerprint else "—",
        topics=topics,
        queued=status.queued,
        last=last,
    )
    if status.disconnect_reason:
        text += "\n\n" + i18n(f"logserver-reason-{status.disconnect_reason}")
    return text


async def finish_setup(
    bot: Bot, session: AsyncSession, logserver: LogServerService, server: LogServer, i18n: I18n
) -> bool:
    """Topics, the setup record and the pinned panel; False (and the user told) on failure."""
    chat_id, _ = logserver.chat_of(server)
    try:
        created = await ensure_topics(bot, server, chat_id, topic_names(i18n))
        await session.flush()
        posted = server.panel_message_id is None
        if posted:
            pinned = await post_panel(
                bot,
                server,
                chat_id,
                panel_text(i18n, server),
                _server_panel_keyboard(i18n, server),
            )
            if not pinned:
                await bot.send_message(server.user_id, i18n("logserver-warn-cannot-pin"))
    except TelegramAPIError as exc:
        log.info("log server setup failed: %s", exc.message)
        await bot.send_message(server.user_id, i18n("logserver-setup-failed"))
        return False
    if not created and not posted:
        return True  # already complete: nothing to record
    await logserver.record_in(
        session,
        server.user_id,
        RecordKind.SYSTEM,
        {
            "event": "setup",
            "fingerprint": server.key_fingerprint,
            "topics": {kind.value: getattr(server, f"thread_{kind.value}") for kind in RecordKind},
        },
    )
    # Committed now so that the worker, woken here, finds the setup record.
    await session.commit()
    logserver.wake.set()
    return True


# ---------------------------------------------------------------------- /logserver


async def show(
    message: Message,
    bot: Bot,
    user: User,
    session: AsyncSession,
    i18n: I18n,
    logserver: LogServerService,
) -> None:
    if user.locale is None:
        # Notices about the log server come later, outside any update: keep the language the
        # user set it up in.
        await users.set_locale(session, user, i18n.locale)
    server = await logserver.get(session, user.id)
    if server is not None and server.state is LogServerState.AWAITING_KEY:
        await message.answer(i18n("logserver-key-prompt"), reply_markup=key_choice_keyboard(i18n))
        return
    text = await status_text(i18n, session, logserver, user.id)
    if text is not None:
        await message.answer(text, reply_markup=status_keyboard(i18n))
        return
    await message.answer(i18n("logserver-intro"), reply_markup=pick_group_keyboard(i18n))
    token = await logserver.issue_token(user.id)
    me = await bot.me()
    url = f"https://t.me/{me.username}?startgroup={token}&admin={startgroup_admin_param()}"
    await message.answer(i18n("logserver-link-intro"), reply_markup=startgroup_keyboard(i18n, url))


async def group_shared(
    message: Message,
    bot: Bot,
    user: User,
    session: AsyncSession,
    i18n: I18n,
    logserver: LogServerService,
) -> None:
    assert message.chat_shared is not None
    shared = message.chat_shared
    report = await check_group(bot, shared.chat_id, user.id)
    if not report.ok:
        await message.answer(render_report(i18n, report), reply_markup=pick_group_keyboard(i18n))
        return
    await bind_and_continue(bot, session, logserver, i18n, user.id, report)


async def bind_and_continue(
    bot: Bot,
    session: AsyncSession,
    logserver: LogServerService,
    i18n: I18n,
    user_id: int,
    report: CheckReport,
) -> None:
    """After a passing check: link the group, show the warnings, ask for the key (or finish)."""
    try:
        server = await logserver.bind(session, user_id, report.chat_id, report.title)
    except AlreadyLinked:
        await bot.send_message(user_id, i18n("logserver-check-already-linked"))
        return
    # Committed before the prompt: the user's answer (the key) is another update that must
    # already see the link.
    await session.commit()
    text = _with_warnings(i18n, i18n("logserver-bound", title=report.title), report)
    await bot.send_message(user_id, text, reply_markup=ReplyKeyboardRemove())
    if server.public_key is None:
        await bot.send_message(
            user_id, i18n("logserver-key-prompt"), reply_markup=key_choice_keyboard(i18n)
        )
        return
    if await finish_setup(bot, session, logserver, server, i18n):
        await bot.send_message(user_id, i18n("logserver-setup-done", title=report.title))


async def _server_or_alert(
    query: CallbackQuery, i18n: I18n, server: LogServer | None, missing: str = "logserver-none"
) -> LogServer | None:
    """`server`; or, when there is none, None after the alert `missing` on the button."""
    if server is None:
        await query.answer(i18n(missing), show_alert=True)
    return server


def _editable(query: CallbackQuery) -> Message | None:
    """The message the button is on, if the bot can still edit it."""
    message = query.message
    if message is None or isinstance(message, InaccessibleMessage):
        return None
    return message


# ---------------------------------------------------------------------- the key


def _looks_secret(raw: bytes) -> bool:
    return any(marker in raw for marker in _SECRET_MARKERS)


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
    await _take_key(message, raw, bot, user, session, i18n, logserver, crypto)


async def key_document(
    message: Message,
    bot: Bot,
    user: User,
    session: AsyncSession,
    i18n: I18n,
    logserver: LogServerService,
    crypto: CryptoService,
) -> None:
    document = message.document
    assert document is not None
    if document.file_size is not None and document.file_size > crypto.settings.max_key_bytes:
        await message.answer(i18n("logserver-key-too-large"))
        return
    buffer = io.BytesIO()
    await bot.download(document, destination=buffer)
    await _take_key(message, buffer.getvalue(), bot, user, session, i18n, logserver, crypto)


async def _take_key(
    message: Message,
    raw: bytes,
    bot: Bot,
    user: User,
    session: AsyncSession,
    i18n: I18n,
    logserver: LogServerService,
    crypto: CryptoService,
) -> None:
    if _looks_secret(raw):
        await _refuse_secret(message, i18n)
        return
    server = await logserver.expecting_key(session, user.id)
    if server is None:
        await message.answer(i18n("logserver-key-not-expected"))
        return
    try:
        info = crypto.engine.inspect_public_key(raw)
    except KeyImportError as exc:
        if exc.kind is KeyErrorKind.SECRET_KEY:
            await _refuse_secret(message, i18n)
            return
        await message.answer(i18n(f"logserver-key-{exc.kind.value}"))
        return
    await accept_key(bot, session, logserver, i18n, server, info)


async def _refuse_secret(message: Message, i18n: I18n) -> None:
    try:
        await message.delete()
        deleted = True
    except TelegramBadRequest:
        deleted = False
    key = "logserver-key-secret-refused" if deleted else "logserver-key-secret-not-deleted"
    await message.answer(i18n(key))


async def accept_key(
    bot: Bot,
    session: AsyncSession,
    logserver: LogServerService,
    i18n: I18n,
    server: LogServer,
    info: KeyInfo,
) -> None:
    first = server.state is LogServerState.AWAITING_KEY
    previous = await logserver.set_key(session, server, info)
    fingerprint = format_fingerprint(info.fingerprint)
    accepted = i18n("logserver-key-accepted", fingerprint=fingerprint)
    _, title = logserver.chat_of(server)
    if first:
        if await finish_setup(bot, session, logserver, server, i18n):
            done = i18n("logserver-setup-done", title=title)
            await bot.send_message(server.user_id, accepted + "\n\n" + done)
        return
    await bot.send_message(server.user_id, accepted)
    await logserver.record_in(
        session,
        server.user_id,
        RecordKind.SYSTEM,
        {"event": "key-rotated", "previous": previous, "fingerprint": info.fingerprint},
    )
    logserver.wake.set()
    await refresh_panel(bot, logserver, server, i18n)


async def refresh_panel(
    bot: Bot, logserver: LogServerService, server: LogServer, i18n: I18n
) -> None:
    """Show the panel's current state (a change that fails is not worth an error)."""
    if server.panel_message_id is None or server.state is LogServerState.DISCONNECTED:
        return
    chat_id, _ = logserver.chat_of(server)
    slot = logserver.limiter.take(chat_id)
    try:
        await bot.edit_message_text(
            panel_text(i18n, server),
            chat_id=chat_id,
            message_id=server.panel_message_id,
            reply_markup=_server_panel_keyboard(i18n, server),
        )
    except TelegramAPIError as exc:
        log.info("panel not refreshed: %s", exc.message)
    finally:
        logserver.limiter.done(slot)


def new_passphrase() -> str:
    """Six groups of five characters from an unambiguous alphabet (about 145 bits)."""
    groups = ("".join(secrets.choice(_PASSPHRASE_ALPHABET) for _ in range(5)) for _ in range(6))
    return "-".join(groups)


async def generate_key(
    query: CallbackQuery,
    bot: Bot,
    user: User,
    session: AsyncSession,
    i18n: I18n,
    logserver: LogServerService,
    crypto: CryptoService,
) -> None:
    server = await _server_or_alert(
        query, i18n, await logserver.expecting_key(session, user.id), "logserver-key-not-expected"
    )
    if server is None:
        return
    await query.answer(i18n("logserver-generating"))
    passphrase = new_passphrase()
    generated = await asyncio.to_thread(
        crypto.engine.generate_key, "Libral log key", passphrase=passphrase
    )
    key_message = await bot.send_document(
        user.id,
        BufferedInputFile(generated.secret_armored.encode(), filename="libral-secret-key.asc"),
        caption=i18n("logserver-key-generated"),
        protect_content=False,
    )
    pass_message = await bot.send_message(
        user.id, i18n("logserver-key-passphrase", passphrase=passphrase)
    )
    await bot.edit_message_reply_markup(
        chat_id=user.id,
        message_id=pass_message.message_id,
        reply_markup=key_saved_keyboard(i18n, key_message.message_id, pass_message.message_id),
    )
    info = generated.info
    # The secret key and passphrase now exist only in the user's chat; nothing is kept here.
    del generated, passphrase
    await accept_key(bot, session, logserver, i18n, server, info)


async def key_saved(query: CallbackQuery, callback_data: SetupCD, bot: Bot, i18n: I18n) -> None:
    """The user saved the generated key: remove it and the passphrase from the chat."""
    if query.message is None or query.message.chat.id != query.from_user.id:
        await query.answer(i18n("error-button-expired"), show_alert=True)
        return
    ids = [i for i in (callback_data.a, callback_data.b) if i > 0]
    try:
        await bot.delete_messages(query.from_user.id, ids)
    except TelegramBadRequest:
        await query.answer(i18n("logserver-key-delete-failed"), show_alert=True)
        return
    await query.answer(i18n("logserver-key-saved-done"))


# ---------------------------------------------------------------------- the status panel


async def recheck(
    query: CallbackQuery,
    bot: Bot,
    user: User,
    session: AsyncSession,
    i18n: I18n,
    logserver: LogServerService,
) -> None:
    server = await _server_or_alert(query, i18n, await logserver.get(session, user.id))
    if server is None:
        return
    chat_id, _ = logserver.chat_of(server)
    report = await check_group(bot, chat_id, user.id)
    await query.answer()
    if not report.ok:
        await bot.send_message(user.id, render_report(i18n, report))
        return
    try:
        missing = await missing_topics(bot, server, chat_id)
    except TelegramAPIError as exc:
        log.info("log topics could not be checked: %s", exc.message)
        await bot.send_message(user.id, i18n("logserver-setup-failed"))
        return
    # Reconnected in the same commit that makes the missing topics (finish_setup), so the
    # worker never sees an active log server without its topics.
    reconnected = await logserver.mark_reconnected(session, server)
    if server.public_key is not None and not await finish_setup(
        bot, session, logserver, server, i18n
    ):
        return
    text = _with_warnings(i18n, i18n("logserver-recheck-ok"), report)
    if missing and server.public_key is not None:
        names = topic_names(i18n)
        text = (
            i18n("logserver-topics-recreated", topics=", ".join(names[k] for k in missing))
            + "\n\n"
            + text
        )
    if reconnected:
        text += "\n\n" + i18n(
            "logserver-reconnected", count=await logserver.queued(session, user.id)
        )
    await bot.send_message(user.id, text)
    await _edit_status(query, i18n, session, logserver, user.id)


async def _edit_status(
    query: CallbackQuery,
    i18n: I18n,
    session: AsyncSession,
    logserver: LogServerService,
    user_id: int,
    *,
    confirm_disconnect: bool = False,
) -> None:
    text = await status_text(i18n, session, logserver, user_id)
    message = _editable(query)
    if text is None or message is None:
        return
    with contextlib.suppress(TelegramBadRequest):  # unchanged text
        await message.edit_text(
            text, reply_markup=status_keyboard(i18n, confirm_disconnect=confirm_disconnect)
        )


async def change_key(
    query: CallbackQuery, user: User, session: AsyncSession, i18n: I18n, logserver: LogServerService
) -> None:
    server = await _server_or_alert(query, i18n, await logserver.get(session, user.id))
    if server is None:
        return
    await logserver.expect_key(user.id)
    await query.answer()
    if query.message is not None:
        await query.message.answer(
            i18n("logserver-rotate-prompt"), reply_markup=key_choice_keyboard(i18n)
        )


async def ask_disconnect(
    query: CallbackQuery, user: User, session: AsyncSession, i18n: I18n, logserver: LogServerService
) -> None:
    await query.answer()
    await _edit_status(query, i18n, session, logserver, user.id, confirm_disconnect=True)


async def cancel(
    query: CallbackQuery, user: User, session: AsyncSession, i18n: I18n, logserver: LogServerService
) -> None:
    await query.answer()
    await _edit_status(query, i18n, session, logserver, user.id)


async def disconnect(
    query: CallbackQuery,
    bot: Bot,
    user: User,
    session: AsyncSession,
    i18n: I18n,
    logserver: LogServerService,
) -> None:
    server = await _server_or_alert(query, i18n, await logserver.get(session, user.id))
    if server is None:
        return
    dropped = await disconnect_server(bot, session, logserver, server, i18n)
    await query.answer()
    message = _editable(query)
    if message is not None:
        await message.edit_text(i18n("logserver-disconnected-done", count=dropped))


async def disconnect_server(
    bot: Bot, session: AsyncSession, logserver: LogServerService, server: LogServer, i18n: I18n
) -> int:
    """Unlink the group, drop its queue, unpin the panel and leave the group."""
    chat_id, _ = logserver.chat_of(server)
    if server.state is not LogServerState.DISCONNECTED:
        try:
            if server.panel_message_id is not None:
                await bot.unpin_chat_message(chat_id, message_id=server.panel_message_id)
            await bot.send_message(chat_id, i18n("logserver-group-goodbye"))
            await bot.leave_chat(chat_id)
        except TelegramAPIError as exc:
            log.info("could not leave the log group cleanly: %s", exc.message)
    dropped = await logserver.remove(session, server.user_id)
    # The user is told next: tell only what is stored (and what a new message will find).
    await session.commit()
    return dropped


def setup() -> Router:
    router = Router(name="onboarding")
    router.message.register(show, Command("logserver"))
    router.message.register(group_shared, F.chat_shared.request_id == REQUEST_GROUP)
    router.message.register(key_text, F.text.contains(_ARMOR))
    router.message.register(
        key_document,
        F.document.file_name.lower().endswith(_KEY_FILE_SUFFIXES)
        | F.document.mime_type.in_({"application/pgp-keys", "application/pgp-encrypted"}),
    )
    router.callback_query.register(generate_key, SetupCD.filter(F.action == SetupAction.GENERATE))
    router.callback_query.register(key_saved, SetupCD.filter(F.action == SetupAction.SAVED))
    router.callback_query.register(recheck, SetupCD.filter(F.action == SetupAction.RECHECK))
    router.callback_query.register(change_key, SetupCD.filter(F.action == SetupAction.CHANGE_KEY))
    router.callback_query.register(
        ask_disconnect, SetupCD.filter(F.action == SetupAction.DISCONNECT)
    )
    router.callback_query.register(
        disconnect, SetupCD.filter(F.action == SetupAction.DISCONNECT_YES)
    )
    router.callback_query.register(cancel, SetupCD.filter(F.action == SetupAction.CANCEL))
    return router
