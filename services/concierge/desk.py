"""The staff desk: one forum supergroup, linked by an operator with the log server's checks; a
topic per session whose name shows the session's state.

The state lives in the topic's name (renamed only when it changes): Telegram does not count topic
edits against the group's 20 messages a minute, so the desk's budget goes to the messages.
"""

from __future__ import annotations

import enum
import logging

from aiogram.exceptions import TelegramAPIError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.base import utcnow
from bot.db.models.concierge import ConciergeDesk, ConciergeSession, SessionState
from services.concierge.ports import DeskSender
from services.crypto.fields import FieldCipher

log = logging.getLogger(__name__)

PURPOSE_CHAT = "concierge-desk-chat"
PURPOSE_CHAT_ID = "concierge-desk-chat-id"
DESK_ROW = 1
MAX_TOPIC_NAME = 128


class Badge(enum.StrEnum):
    """The prefix of a session's topic name."""

    WAITING = "🔴"  # a user message waits, nobody claimed the session
    CLAIMED_WAITING = "🟠"  # a user message waits for the staff member who claimed it
    CLAIMED = "🟡"
    ANSWERED = "🟢"
    CLOSED = "⚫"


def badge(row: ConciergeSession) -> Badge:
    if row.state is SessionState.CLOSED:
        return Badge.CLOSED
    claimed = row.state is SessionState.CLAIMED
    if row.waiting_since is not None:
        return Badge.CLAIMED_WAITING if claimed else Badge.WAITING
    return Badge.CLAIMED if claimed else Badge.ANSWERED


def topic_name(mark: Badge, persona: str, pseudonym: str) -> str:
    return f"{mark.value} {persona} · {pseudonym}"[:MAX_TOPIC_NAME]


async def linked_chat(session: AsyncSession, cipher: FieldCipher) -> int | None:
    row = await session.get(ConciergeDesk, DESK_ROW)
    if row is None:
        return None
    return int(cipher.decrypt_str(PURPOSE_CHAT_ID, row.chat_enc, row_id=DESK_ROW))


async def is_desk(session: AsyncSession, cipher: FieldCipher, chat_id: int) -> bool:
    found = await session.scalar(
        select(ConciergeDesk.id).where(
            ConciergeDesk.chat_key.in_(cipher.lookup_hashes(PURPOSE_CHAT, chat_id))
        )
    )
    return found is not None


async def link(session: AsyncSession, cipher: FieldCipher, chat_id: int) -> None:
    """Make the group the desk (replacing an earlier one: its sessions' topics stay there)."""
    row = await session.get(ConciergeDesk, DESK_ROW)
    key = cipher.lookup_hash(PURPOSE_CHAT, chat_id)
    enc = cipher.encrypt(PURPOSE_CHAT_ID, str(chat_id), row_id=DESK_ROW)
    if row is None:
        session.add(ConciergeDesk(id=DESK_ROW, chat_key=key, chat_enc=enc))
    else:
        row.chat_key, row.chat_enc, row.linked_at = key, enc, utcnow()
    await session.flush()


async def open_topic(bot: DeskSender, chat_id: int, name: str) -> int:
    topic = await bot.create_forum_topic(chat_id, name)
    return topic.message_thread_id


async def show_state(
    bot: DeskSender, chat_id: int, row: ConciergeSession, persona: str, pseudonym: str
) -> None:
    """Rename the topic when the session's state changed (and close it with the session).

    A failed rename is logged and tried again at the next change: the state shown is a help
    for staff, never a reason to fail a relay.
    """
    mark = badge(row)
    if row.thread_id is None or row.shown == mark.value:
        return
    try:
        await bot.edit_forum_topic(
            chat_id, row.thread_id, name=topic_name(mark, persona, pseudonym)
        )
        if mark is Badge.CLOSED:
            await bot.close_forum_topic(chat_id, row.thread_id)
    except TelegramAPIError as exc:
        log.info("session %s: topic not renamed (%s)", row.id, exc.message)
        return
    row.shown = mark.value
