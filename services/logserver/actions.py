"""What the owner (and Telegram) do to a log server, one use case each: link a group, complete
the setup, take a key, pause or resume, send a test record, purge, follow the bot's membership,
disconnect. Each commits what it changed before it returns, so the handler may tell the user at
once (docs/architecture.md, "Transactions")."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from aiogram.exceptions import TelegramAPIError
from aiogram.types import InlineKeyboardMarkup
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models.logserver import LogServer, LogServerState
from services.crypto import KeyInfo
from services.logserver.delivery import DeliveryWorker
from services.logserver.onboarding import ensure_topics, post_panel
from services.logserver.service import LogServerService
from services.logserver.types import RecordKind, RecordResult
from services.ports import GroupAdmin, MessageSender

log = logging.getLogger(__name__)

Panel = Callable[[LogServer], tuple[str, InlineKeyboardMarkup]]


class GroupExit(MessageSender, Protocol):
    """What leaving a log group needs (aiogram's `Bot` as it is)."""

    async def unpin_chat_message(
        self, chat_id: int | str, *, message_id: int | None = None
    ) -> bool: ...

    async def leave_chat(self, chat_id: int | str) -> bool: ...


async def link_group(
    session: AsyncSession, logserver: LogServerService, user_id: int, chat_id: int, title: str
) -> LogServer:
    """Link the group (raises `AlreadyLinked`); committed: the user's next update (the key)
    must already see it."""
    server = await logserver.bind(session, user_id, chat_id, title)
    await session.commit()
    return server


@dataclass(frozen=True, slots=True)
class Setup:
    ok: bool  # False: Telegram refused a step; "check again" completes it later
    pinned: bool = True  # False: the panel is posted but could not be pinned
    activated: Any = None  # what `activate` returned


async def complete_setup(
    session: AsyncSession,
    bot: GroupAdmin,
    logserver: LogServerService,
    server: LogServer,
    *,
    topic_names: Mapping[RecordKind, str],
    panel: Panel,
    again: Collection[RecordKind] = (),
    activate: Callable[[], Awaitable[Any]] | None = None,
) -> Setup:
    """Topics (and those in `again` made anew), then `activate` (the key, a reconnection), the
    pinned panel and the setup record. The topics come before the activation, so the delivery
    worker never finds an active log server without them; each step is committed before the
    next call to Telegram."""
    chat_id, _ = logserver.chat_of(server)
    try:
        created = await ensure_topics(bot, session, server, chat_id, topic_names, again)
    except TelegramAPIError as exc:
        log.info("log server topics not made: %s", exc.message)
        created = None
    activated = await activate() if activate is not None else None
    await session.commit()
    if created is None:
        return Setup(ok=False, activated=activated)
    posted = server.panel_message_id is None
    pinned = True
    if posted:
        text, markup = panel(server)
        try:
            pinned = await post_panel(bot, session, server, chat_id, text, markup)
        except TelegramAPIError as exc:
            log.info("log server panel not posted: %s", exc.message)
            return Setup(ok=False, activated=activated)
    if created or posted:
        await logserver.record_in(
            session,
            server.user_id,
            RecordKind.SYSTEM,
            {
                "event": "setup",
                "fingerprint": server.key_fingerprint,
                "topics": {
                    kind.value: getattr(server, f"thread_{kind.value}") for kind in RecordKind
                },
            },
        )
        await session.commit()
        logserver.wake.set()  # the worker finds the setup record committed
    return Setup(ok=True, pinned=pinned, activated=activated)


async def rotate_key(
    session: AsyncSession, logserver: LogServerService, server: LogServer, info: KeyInfo
) -> None:
    """A new key for a working log server, with its Audit record."""
    previous = await logserver.set_key(session, server, info)
    await logserver.record_in(
        session,
        server.user_id,
        RecordKind.AUDIT,
        {"event": "key-changed", "previous": previous, "fingerprint": info.fingerprint},
    )
    await session.commit()
    logserver.wake.set()


async def set_paused(
    session: AsyncSession, logserver: LogServerService, server: LogServer, *, paused: bool
) -> LogServerState:
    """Pause or resume logging, each with its Audit record; returns the state now."""
    was = server.state
    if paused and was is LogServerState.ACTIVE:
        # Recorded while logging still runs: the pause itself is the last record before it.
        await logserver.audit(session, server.user_id, "paused")
    await logserver.set_paused(session, server, paused=paused)
    if not paused and was is LogServerState.PAUSED:
        await logserver.audit(session, server.user_id, "resumed")
    await session.commit()
    return server.state


async def send_test(
    session: AsyncSession, logserver: LogServerService, server: LogServer
) -> RecordResult:
    result = await logserver.record_in(
        session, server.user_id, RecordKind.SYSTEM, {"event": "test"}
    )
    await session.commit()
    logserver.wake.set()
    return result


async def purge(session: AsyncSession, logserver: LogServerService, server: LogServer) -> int:
    """ "Purge my central data now" (see `purge_user_data`), with its Audit record."""
    count = await logserver.purge_user_data(session, server.user_id)
    await logserver.audit(session, server.user_id, "purged", items=count)
    await session.commit()
    return count


async def panel_shown(session: AsyncSession, server: LogServer, head_seq: int | None) -> None:
    """The panel shows the chain's head `head_seq` now (the worker edits it only when behind)."""
    server.panel_seq = head_seq
    await session.commit()


async def mark_disconnected(
    session: AsyncSession, logserver: LogServerService, server: LogServer, reason: str
) -> bool:
    """The bot lost the group or its rights; True when it was reachable before (tell)."""
    newly = await logserver.mark_disconnected(session, server, reason)
    await session.commit()
    return newly


async def mark_reconnected(
    session: AsyncSession, logserver: LogServerService, server: LogServer
) -> int | None:
    """The bot is back with its rights: the records waiting (to tell), or None when it was
    not disconnected."""
    if not await logserver.mark_reconnected(session, server):
        return None
    await session.commit()
    return await logserver.queued(session, server.user_id)


async def disconnect(
    session: AsyncSession,
    bot: GroupExit,
    logserver: LogServerService,
    delivery: DeliveryWorker,
    server: LogServer,
    goodbye: str,
) -> int:
    """Record the disconnect in the Audit topic and let it go out, then unlink the group, drop
    what could not be delivered, unpin the panel and leave the group (saying `goodbye`).
    Returns the records dropped."""
    chat_id, _ = logserver.chat_of(server)
    if server.state is not LogServerState.DISCONNECTED:
        await logserver.audit(session, server.user_id, "disconnected")
        await session.commit()  # the worker can deliver it only once committed
        if not await delivery.drain(server.user_id):
            log.info("the log server's last records did not go out before the disconnect")
        try:
            if server.panel_message_id is not None:
                await bot.unpin_chat_message(chat_id, message_id=server.panel_message_id)
            await bot.send_message(chat_id, goodbye)
            await bot.leave_chat(chat_id)
        except TelegramAPIError as exc:
            log.info("could not leave the log group cleanly: %s", exc.message)
    dropped = await logserver.remove(session, server.user_id)
    await session.commit()
    return dropped
