"""The concierge service: the flows the handlers call, one per user or staff action.

Each flow takes the update's session and the bot, commits what it made true before anything is
told to the user (or staff), and returns an outcome for the handler to render. Every Bot API call
goes through the one send budget (the bot's session middleware): a flow waits there for the
desk's slot (a forum is one group, about 20 messages a minute) and never paces on its own.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from aiogram.exceptions import TelegramAPIError, TelegramForbiddenError
from aiogram.types import Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.base import utcnow
from bot.db.models import User
from bot.db.models.concierge import (
    ConciergePersona,
    ConciergeRelay,
    ConciergeSession,
    ConciergeTemplate,
    RelayDirection,
    RelayState,
    SessionState,
)
from bot.db.transactions import calling_inside_transaction
from bot.state import KeyValueState
from services.ai.chat import AIService
from services.concierge import desk, drafts, personas, relay, sessions, templates, transcript
from services.concierge.config import ConciergeSettings
from services.concierge.ports import DeskSender, DeskUI
from services.crypto.fields import FieldCipher
from services.logserver import LogServerService
from services.logserver.onboarding import check_group
from services.logserver.types import CheckProblem, CheckReport
from services.sendbudget import Priority, SendBudget

log = logging.getLogger(__name__)

_DESK_CACHE_SECONDS = 10.0
OPEN_PREFIX = "cc:s:"
SESSION_MARK_TTL = 24 * 3600.0


class Outcome(enum.StrEnum):
    OPENED = "opened"
    DELIVERED = "delivered"
    DUPLICATE = "duplicate"  # a redelivered update or a second tap: nothing done again
    NO_PERSONA = "no-persona"
    INACTIVE = "inactive"
    NO_DESK = "no-desk"
    DESK_FAILED = "desk-failed"  # the topic could not be made: no session
    NO_SESSION = "no-session"
    UNSUPPORTED = "unsupported"  # not text, a photo or a sticker: nothing charged
    LOW_BALANCE = "low-balance"
    FAILED = "failed"  # not delivered (a user message's charge went back)
    BLOCKED = "blocked"  # the user blocked the bot
    CLOSED = "closed"
    CLAIMED = "claimed"
    RELEASED = "released"
    TAKEN = "taken"  # claimed by another staff member
    NOT_CLAIMED = "not-claimed"
    NO_TEMPLATE = "no-template"
    DRAFTED = "drafted"
    DRAFT_FAILED = "draft-failed"


@dataclass(frozen=True, slots=True)
class Result:
    outcome: Outcome
    persona: ConciergePersona | None = None
    balance: int = 0
    price: int = 0
    refunded: int = 0


@dataclass(frozen=True, slots=True)
class Waiting:
    """One line of the unanswered queue."""

    session_id: int
    persona: str
    pseudonym: str
    since: datetime
    link: str | None


class ConciergeService:
    def __init__(
        self,
        settings: ConciergeSettings,
        cipher: FieldCipher,
        logserver: LogServerService,
        ai: AIService,
        budget: SendBudget,
        kv: KeyValueState,
    ) -> None:
        self.settings = settings
        self.cipher = cipher
        self.logserver = logserver
        self.ai = ai
        self.budget = budget
        self.kv = kv
        self._desk: tuple[int | None, float] | None = None

    # ------------------------------------------------------------------ the desk

    async def desk_chat(self, session: AsyncSession) -> int | None:
        """The desk's chat id (cached a few seconds: another instance may link a new one)."""
        now = time.monotonic()
        if self._desk is not None and now - self._desk[1] < _DESK_CACHE_SECONDS:
            return self._desk[0]
        chat = await desk.linked_chat(session, self.cipher)
        self._desk = (chat, now)
        return chat

    async def is_desk(self, session: AsyncSession, chat_id: int) -> bool:
        return chat_id == await self.desk_chat(session)

    async def link_desk(
        self, session: AsyncSession, bot: DeskSender, operator_id: int, chat_id: int
    ) -> CheckReport:
        """Check the group as a log server is checked; link it when the check passes."""
        report = await check_group(bot, chat_id, operator_id)
        if not report.ok:
            return report
        if await self.logserver.by_chat(session, chat_id) is not None:
            return CheckReport(chat_id, report.title, problems=(CheckProblem.ALREADY_LINKED,))
        await desk.link(session, self.cipher, chat_id)
        await session.commit()
        self._desk = None
        return report

    def pseudonym(self, user_id: int) -> str:
        return sessions.pseudonym(self.cipher, user_id)

    async def _show(
        self, session: AsyncSession, bot: DeskSender, chat: int, row: ConciergeSession
    ) -> None:
        persona = await personas.get(session, row.persona_id)
        name = persona.name if persona is not None else "?"
        await desk.show_state(bot, chat, row, name, self.pseudonym(row.user_id))

    # ------------------------------------------------------------------ the user's side

    async def start(
        self, session: AsyncSession, bot: DeskSender, ui: DeskUI, user_id: int, persona_id: int
    ) -> Result:
        """Open a session with the persona (closing the user's previous one) and its topic."""
        persona = await personas.get(session, persona_id)
        if persona is None:
            return Result(Outcome.NO_PERSONA)
        if not persona.active:
            return Result(Outcome.INACTIVE, persona)
        chat = await self.desk_chat(session)
        if chat is None:
            return Result(Outcome.NO_DESK, persona)
        previous = await sessions.current(session, user_id)
        if previous is not None:
            await self._close(session, bot, ui, previous, by_user=True, tell_user=False)
        # The topic first, the session with it: no write is pending while Telegram answers, and a
        # refused topic leaves nothing behind. A new session is open with nobody waiting.
        mark = desk.Badge.ANSWERED
        try:
            thread_id = await desk.open_topic(
                bot, chat, desk.topic_name(mark, persona.name, self.pseudonym(user_id))
            )
        except TelegramAPIError as exc:
            log.warning("concierge topic not created (%s)", exc.message)
            return Result(Outcome.DESK_FAILED, persona)
        row = await sessions.create(session, self.settings, user_id, persona, thread_id=thread_id)
        row.shown = mark.value
        await session.commit()
        # Lets private messages find their way here without a database look-up each.
        await self.kv.put(OPEN_PREFIX + str(user_id), str(row.id), ttl=SESSION_MARK_TTL)
        return Result(Outcome.OPENED, persona)

    async def has_session(self, user_id: int) -> bool:
        return await self.kv.get(OPEN_PREFIX + str(user_id)) is not None

    async def set_name(self, session: AsyncSession, user_id: int, name: str) -> str | None:
        row = await sessions.current(session, user_id)
        if row is None:
            return None
        clean = sessions.set_name(self.cipher, row, name)
        await session.commit()
        return clean

    async def user_message(
        self,
        session: AsyncSession,
        bot: DeskSender,
        ui: DeskUI,
        user_id: int,
        message: Message,
        on_queued: Callable[[], Awaitable[None]],
    ) -> Result:
        """Charge and accept the message (one commit), relay it to the topic, and give the charge
        back if it could not be relayed. ``on_queued`` runs when the desk has no free slot now."""
        row = await sessions.current(session, user_id)
        if row is None:
            await self.kv.delete(OPEN_PREFIX + str(user_id))
            return Result(Outcome.NO_SESSION)
        content = relay.content_of(message)
        if content is None:
            return Result(Outcome.UNSUPPORTED)
        persona = await personas.get(session, row.persona_id)
        chat = await self.desk_chat(session)
        if persona is None or chat is None or row.thread_id is None:
            return Result(Outcome.NO_DESK)
        # Read before the commit: no transaction stays open while the send waits for its slot.
        shown = await templates.listing(session, self.settings.templates_shown)
        try:
            accepted = await sessions.accept_user_message(
                session, self.cipher, self.settings, row, persona, message.message_id, content
            )
        except sessions.LowBalance as exc:
            return Result(Outcome.LOW_BALANCE, persona, balance=exc.balance, price=exc.price)
        # A redelivered copy relays again only what a cut-off attempt accepted but never sent.
        if accepted is None or accepted.relay.state is not RelayState.ACCEPTED:
            return Result(Outcome.DUPLICATE, persona)
        await session.commit()
        if await self.budget.free(chat, Priority.HIGH) <= 0:
            await on_queued()
        try:
            copy_id = await relay.to_topic(
                bot, chat, row.thread_id, message, ui.controls(row.id, accepted.relay.id, shown)
            )
        except TelegramAPIError as exc:
            log.warning("concierge: user message not relayed (%s); charge given back", exc.message)
            refunded = await sessions.refund(session, self.cipher, row, accepted.relay)
            await session.commit()
            return Result(Outcome.FAILED, persona, refunded=refunded)
        accepted.relay.copy_id = copy_id
        accepted.relay.state = RelayState.DELIVERED
        await session.commit()
        await self._show(session, bot, chat, row)
        await session.commit()
        return Result(Outcome.DELIVERED, persona)

    async def end(self, session: AsyncSession, bot: DeskSender, ui: DeskUI, user_id: int) -> Result:
        row = await sessions.current(session, user_id)
        if row is None:
            return Result(Outcome.NO_SESSION)
        persona = await self._close(session, bot, ui, row, by_user=True, tell_user=False)
        return Result(Outcome.CLOSED, persona)

    async def _close(
        self,
        session: AsyncSession,
        bot: DeskSender,
        ui: DeskUI,
        row: ConciergeSession,
        *,
        by_user: bool,
        tell_user: bool,
    ) -> ConciergePersona | None:
        """Close, queue the transcript for the user's log server, commit; then show it."""
        persona = await personas.get(session, row.persona_id)
        if not sessions.close(self.settings, row):
            return persona
        if persona is not None:
            await transcript.write(session, self.logserver, self.cipher, row, persona)
        await session.commit()
        self.logserver.wake.set()
        await self.kv.delete(OPEN_PREFIX + str(row.user_id))
        chat = await self.desk_chat(session)
        if chat is not None and row.thread_id is not None:
            key = "concierge-desk-ended-by-user" if by_user else "concierge-desk-ended-by-staff"
            try:
                await bot.send_message(chat, ui.text(key), message_thread_id=row.thread_id)
            except TelegramAPIError as exc:
                log.info("concierge: end notice not posted (%s)", exc.message)
            await self._show(session, bot, chat, row)
            await session.commit()
        user = await session.get(User, row.user_id)
        if tell_user and persona is not None and user is not None:
            text = ui.for_user(user, "concierge-ended-by-persona", persona=persona.name)
            try:
                await bot.send_message(row.user_id, text)
            except TelegramAPIError as exc:
                log.info("concierge: user not told of the end (%s)", exc.message)
        return persona

    # ------------------------------------------------------------------ the staff's side

    async def _session_for_staff(
        self, session: AsyncSession, session_id: int
    ) -> tuple[ConciergeSession | None, int | None]:
        row = await session.get(ConciergeSession, session_id)
        return row, await self.desk_chat(session)

    async def _live(
        self, session: AsyncSession, session_id: int
    ) -> tuple[ConciergeSession, int] | Result:
        """The session a staff button is about and the desk, or why there is nothing to do."""
        row, chat = await self._session_for_staff(session, session_id)
        if row is None or chat is None:
            return Result(Outcome.NO_SESSION)
        if row.state is SessionState.CLOSED:
            return Result(Outcome.CLOSED)
        return row, chat

    async def staff_message(
        self, session: AsyncSession, bot: DeskSender, thread_id: int, message: Message
    ) -> Result:
        """What staff write in a session's topic goes to the user as the persona."""
        row = await sessions.by_thread(session, thread_id)
        if row is None:
            return Result(Outcome.NO_SESSION)
        if row.state is SessionState.CLOSED:
            return Result(Outcome.CLOSED)
        content = relay.content_of(message)
        if content is None:
            return Result(Outcome.UNSUPPORTED)
        added = await sessions.add_relay(
            session,
            self.cipher,
            self.settings,
            row,
            RelayDirection.STAFF,
            message.message_id,
            content,
        )
        if added is None:
            return Result(Outcome.DUPLICATE)

        async def send() -> int:
            return await relay.to_user(bot, row.user_id, message.chat.id, message.message_id)

        return await self._deliver(session, bot, message.chat.id, row, added, send)

    async def _deliver(
        self,
        session: AsyncSession,
        bot: DeskSender,
        chat: int,
        row: ConciergeSession,
        added: ConciergeRelay,
        send: Callable[[], Awaitable[int]],
    ) -> Result:
        try:
            with calling_inside_transaction("the relay's claim is held until Telegram answers"):
                added.copy_id = await send()
        except TelegramForbiddenError:
            added.state = RelayState.FAILED
            await session.commit()
            return Result(Outcome.BLOCKED)
        except TelegramAPIError as exc:
            log.warning("concierge: staff reply not delivered (%s)", exc.message)
            added.state = RelayState.FAILED
            await session.commit()
            return Result(Outcome.FAILED)
        added.state = RelayState.DELIVERED
        row.waiting_since = None
        await session.commit()
        await self._show(session, bot, chat, row)
        await session.commit()
        return Result(Outcome.DELIVERED)

    async def claim(
        self,
        session: AsyncSession,
        bot: DeskSender,
        staff_id: int,
        session_id: int,
        *,
        operator: bool,
    ) -> Result:
        live = await self._live(session, session_id)
        if isinstance(live, Result):
            return live
        row, chat = live
        if row.state is SessionState.CLAIMED and row.claimed_by not in (staff_id, None):
            return Result(Outcome.TAKEN)
        row.state, row.claimed_by = SessionState.CLAIMED, staff_id
        await session.commit()
        await self._show(session, bot, chat, row)
        await session.commit()
        return Result(Outcome.CLAIMED)

    async def release(
        self,
        session: AsyncSession,
        bot: DeskSender,
        staff_id: int,
        session_id: int,
        *,
        operator: bool,
    ) -> Result:
        live = await self._live(session, session_id)
        if isinstance(live, Result):
            return live
        row, chat = live
        if row.state is not SessionState.CLAIMED:
            return Result(Outcome.NOT_CLAIMED)
        if row.claimed_by != staff_id and not operator:
            return Result(Outcome.TAKEN)
        row.state, row.claimed_by = SessionState.OPEN, None
        await session.commit()
        await self._show(session, bot, chat, row)
        await session.commit()
        return Result(Outcome.RELEASED)

    async def close(
        self, session: AsyncSession, bot: DeskSender, ui: DeskUI, staff_id: int, session_id: int
    ) -> Result:
        live = await self._live(session, session_id)
        if isinstance(live, Result):
            return live
        row, _ = live
        persona = await self._close(session, bot, ui, row, by_user=False, tell_user=True)
        return Result(Outcome.CLOSED, persona)

    async def send_template(
        self, session: AsyncSession, bot: DeskSender, ui: DeskUI, session_id: int, template_id: int
    ) -> Result:
        live = await self._live(session, session_id)
        if isinstance(live, Result):
            return live
        row, chat = live
        template = await session.get(ConciergeTemplate, template_id)
        if template is None:
            return Result(Outcome.NO_TEMPLATE)
        name = sessions.name_of(self.cipher, row) or ui.text("concierge-name-fallback")
        text = templates.render(template.body, name)
        added = await sessions.add_relay(
            session,
            self.cipher,
            self.settings,
            row,
            RelayDirection.STAFF,
            None,
            {"kind": "text", "text": text},
        )
        assert added is not None  # no source id: never a duplicate

        async def send() -> int:
            return await relay.text_to_user(bot, row.user_id, text)

        return await self._deliver(session, bot, chat, row, added, send)

    async def draft(
        self, session: AsyncSession, bot: DeskSender, ui: DeskUI, session_id: int
    ) -> Result:
        """Ask the configured AI for the persona's next reply; post it in the topic for staff."""
        row, chat = await self._session_for_staff(session, session_id)
        if row is None or chat is None or row.thread_id is None:
            return Result(Outcome.NO_SESSION)
        if row.state is SessionState.CLOSED:
            return Result(Outcome.CLOSED)
        persona = await personas.get(session, row.persona_id)
        if persona is None:
            return Result(Outcome.NO_SESSION)
        recent = await sessions.relays(session, row.id, limit=self.settings.draft_context)
        history = [(r.direction, sessions.unseal(self.cipher, r)) for r in recent]
        model_id = await self.ai.preferences.default_model_id(session)
        # No transaction stays open while the model writes.
        await session.commit()
        try:
            text = await drafts.write_draft(
                self.ai,
                model_id,
                drafts.conversation(persona, history),
                self.settings.draft_max_tokens,
            )
        except drafts.DraftUnavailable:
            return Result(Outcome.DRAFT_FAILED)
        draft = await sessions.add_relay(
            session,
            self.cipher,
            self.settings,
            row,
            RelayDirection.DRAFT,
            None,
            {"kind": "text", "text": text},
        )
        assert draft is not None
        # Saved before it is shown: the buttons under it name this row.
        await session.commit()
        try:
            posted = await bot.send_message(
                chat,
                ui.text("concierge-desk-draft", text=text),
                message_thread_id=row.thread_id,
                reply_markup=ui.draft_controls(row.id, draft.id),
            )
        except TelegramAPIError as exc:
            log.warning("concierge: draft not posted (%s)", exc.message)
            draft.state = RelayState.FAILED
            await session.commit()
            return Result(Outcome.DRAFT_FAILED)
        draft.copy_id = posted.message_id
        draft.state = RelayState.DELIVERED
        await session.commit()
        return Result(Outcome.DRAFTED)

    async def send_draft(
        self,
        session: AsyncSession,
        bot: DeskSender,
        session_id: int,
        draft_id: int,
        shown_as: int | None = None,
    ) -> Result:
        """Send a posted draft to the user. ``shown_as`` is the draft's message in the topic (the
        one pressed): the press can come before the draft's own row records it."""
        row, chat = await self._session_for_staff(session, session_id)
        draft = await session.get(ConciergeRelay, draft_id)
        if row is None or chat is None or draft is None or draft.session_id != row.id:
            return Result(Outcome.NO_SESSION)
        if draft.direction is not RelayDirection.DRAFT:
            return Result(Outcome.NO_SESSION)
        if row.state is SessionState.CLOSED:
            return Result(Outcome.CLOSED)
        shown = draft.copy_id if draft.copy_id is not None else shown_as
        if shown is None or (shown_as is not None and shown_as != shown):
            return Result(Outcome.NO_SESSION)
        text = str(sessions.unseal(self.cipher, draft).get("text", ""))
        # Keyed by the draft's message in the topic: a second tap sends nothing.
        added = await sessions.add_relay(
            session,
            self.cipher,
            self.settings,
            row,
            RelayDirection.STAFF,
            shown,
            {"kind": "text", "text": text},
        )
        if added is None:
            return Result(Outcome.DUPLICATE)

        async def send() -> int:
            return await relay.text_to_user(bot, row.user_id, text)

        return await self._deliver(session, bot, chat, row, added, send)

    async def queue(self, session: AsyncSession) -> list[Waiting]:
        """Sessions waiting for a reply, longest first, with a link to each topic."""
        chat = await self.desk_chat(session)
        out = []
        for row in await sessions.waiting(session, self.settings.queue_shown):
            persona = await personas.get(session, row.persona_id)
            assert row.waiting_since is not None
            out.append(
                Waiting(
                    row.id,
                    persona.name if persona is not None else "?",
                    self.pseudonym(row.user_id),
                    row.waiting_since,
                    topic_link(chat, row.thread_id),
                )
            )
        return out


def topic_link(chat_id: int | None, thread_id: int | None) -> str | None:
    """``t.me/c/…`` works for members of a private supergroup (ids -100…)."""
    if chat_id is None or thread_id is None or not str(chat_id).startswith("-100"):
        return None
    return f"https://t.me/c/{str(chat_id)[4:]}/{thread_id}"


def waited_minutes(since: datetime) -> int:
    return max(0, int((utcnow() - since).total_seconds() // 60))


__all__: Sequence[str] = ("ConciergeService", "Outcome", "Result", "Waiting")
