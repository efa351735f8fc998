"""The rooms service: rooms and their roles and settings, and answering in them.

Handlers call it with the update's session for the quick decisions (which room, which role,
allowed or not) and with a ``Sender`` for the answer itself; the answer runs in its own short
transactions, one room at a time (``RoomQueue``), and is paid by the Master through the AI meter
unless the asker brings their own key.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models.rooms import Room, RoomMember
from services import users
from services.ai import personas
from services.ai.catalogue import ModelInfo
from services.ai.chat import AIService
from services.ai.context import Scope, plan
from services.ai.metering import (
    NotEnoughCredits,
    Payer,
    Reservation,
    output_tokens_for,
    prompt_charge_key,
    prompt_margin,
)
from services.ai.providers.base import ErrorKind, ProviderError, Usage
from services.ai.stream import Markup, Sender, StreamPresenter, Target
from services.ai.tokens import TokenCounter
from services.rooms.config import RoomsSettings
from services.rooms.context import GROUP_INSTRUCTION, RoomContext, spoken
from services.rooms.queue import CountingSender, RoomQueue, SendWindow, ThinningSender
from services.rooms.roles import ASSIGNABLE, Permission, Role, allowed, may_assign
from services.rooms.spend import Hold, LimitReached, SpendBook, SpendLine

log = logging.getLogger(__name__)

PURPOSE_CHAT = "room-chat"
PURPOSE_CHAT_ID = "room-chat-id"
TRIGGER_MENTION = "mention"
TRIGGER_ALL = "all"
TRIGGERS = (TRIGGER_MENTION, TRIGGER_ALL)
NEWCOMER_ROLES = (Role.MEMBER, Role.GUEST, Role.READER)
LOG_KIND = "rooms"
"""Room exchanges are records of the Master's Rooms topic (``services.logserver.RecordKind``)."""


class ExchangeLog(Protocol):
    """The log server's ``record`` (``services.logserver``): optional, injected."""

    async def record(self, user_id: int, kind: Any, body: Mapping[str, Any]) -> object: ...


class Outcome(StrEnum):
    OK = "ok"
    STOPPED = "stopped"
    DENIED = "denied"
    GUESTS_OFF = "guests-off"
    ROOM_BUDGET = "room-budget"
    MEMBER_CAP = "member-cap"
    GUEST_QUOTA = "guest-quota"
    NO_CREDITS = "no-credits"
    NO_MODEL = "no-model"
    EMPTY = "empty"
    FAILED = "failed"
    BUSY = "busy"
    UNREACHABLE = "unreachable"
    GONE = "gone"


@dataclass(frozen=True, slots=True)
class Question:
    chat_id: int
    thread_id: int | None
    user_id: int
    name: str
    """The asker's display name: the model sees who said what."""
    text: str
    message_id: int
    """The question's message: the answer replies to it."""


@dataclass(frozen=True, slots=True)
class AnswerUI:
    """What the answer needs from the asker's language and keyboards."""

    answer_markup: Callable[[str], Markup | None]
    """Buttons under a finished answer in the room, given its exchange id."""
    stop_markup: Callable[[int], Markup | None]
    waiting: Callable[[int], str]
    """The note shown while ``n`` answers go first."""
    stopped_suffix: str
    failed_suffix: str


@dataclass
class Answer:
    outcome: Outcome
    model: ModelInfo | None = None
    cost: int = 0
    balance: int = 0
    needed: int = 0
    allowed: int = 0
    used: int = 0
    error: ErrorKind | None = None
    exchange: str | None = None
    placeholder: int | None = None
    """The "waiting" message the bot posted, when there is one: a refusal replaces it."""
    message_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RoleChange:
    done: bool
    old: Role
    new: Role


@dataclass(frozen=True, slots=True)
class RoomUsage:
    lines: list[SpendLine]
    """Everyone's (Admins and the Master) or only the asker's own line."""
    total_cost: int
    total_replies: int
    budget: int
    cap: int
    everyone: bool


class ReuseSender:
    """A ``Sender`` whose first message goes into an existing message of the bot (the "waiting"
    note, or the answer being regenerated) instead of a new one: the conversation keeps its
    order."""

    def __init__(self, inner: Sender, chat_id: int, message_id: int) -> None:
        self.inner = inner
        self.chat_id = chat_id
        self.message_id: int | None = message_id

    async def send_draft(
        self, chat_id: int, draft_id: int, text: str, *, html: bool, thread_id: int | None
    ) -> None:
        await self.inner.send_draft(chat_id, draft_id, text, html=html, thread_id=thread_id)

    async def send_message(
        self,
        chat_id: int,
        text: str,
        *,
        html: bool,
        thread_id: int | None,
        reply_to: int | None,
        markup: Markup | None,
    ) -> int:
        reuse = self.message_id
        if reuse is not None and chat_id == self.chat_id:
            await self.inner.edit_message(chat_id, reuse, text, html=html, markup=markup)
            self.message_id = None
            return reuse
        return await self.inner.send_message(
            chat_id, text, html=html, thread_id=thread_id, reply_to=reply_to, markup=markup
        )

    async def edit_message(
        self, chat_id: int, message_id: int, text: str, *, html: bool, markup: Markup | None
    ) -> None:
        await self.inner.edit_message(chat_id, message_id, text, html=html, markup=markup)

    async def send_chat_action(self, chat_id: int, *, thread_id: int | None) -> None:
        await self.inner.send_chat_action(chat_id, thread_id=thread_id)


@dataclass(frozen=True, slots=True)
class _RoomView:
    """What an answer needs of the room, read once (the answer outlives the update's session)."""

    id: int
    master_id: int
    model: str | None
    persona: str | None


class RoomService:
    def __init__(
        self,
        settings: RoomsSettings,
        ai: AIService,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        exchange_log: ExchangeLog | None = None,
    ) -> None:
        self.settings = settings
        self.ai = ai
        self.sessionmaker = sessionmaker
        self.cipher = ai.cipher
        self.context = RoomContext(ai.cipher, hours=ai.settings.context_hours)
        self.spend = SpendBook(sessionmaker)
        self.queue = RoomQueue()
        self.window = SendWindow()
        self.exchange_log = exchange_log
        self._inflight: dict[tuple[int, int], tuple[int, asyncio.Event]] = {}

    # -- rooms ----------------------------------------------------------------------------
    def chat_key(self, chat_id: int) -> str:
        return self.cipher.lookup_hash(PURPOSE_CHAT, chat_id)

    def chat_keys(self, chat_id: int) -> list[str]:
        """``chat_key`` under every known master key, current first (for look-ups)."""
        return self.cipher.lookup_hashes(PURPOSE_CHAT, chat_id)

    def _seal_chat(self, room: Room, chat_id: int) -> str:
        return self.cipher.encrypt(PURPOSE_CHAT_ID, str(chat_id), row_id=room.id)

    async def find(self, session: AsyncSession, chat_id: int) -> Room | None:
        """The chat's room. After a master-key rotation its ``chat_key`` may still be under the
        old key (rooms made before ``chat_enc`` existed): matched under every known key, then
        rewritten under the current one with the chat id kept encrypted, so the next rotation
        recomputes it and the old key can go."""
        room = await session.scalar(
            select(Room).where(Room.chat_key.in_(self.chat_keys(chat_id))).limit(1)
        )
        if room is not None and (room.chat_enc is None or room.chat_key != self.chat_key(chat_id)):
            room.chat_key = self.chat_key(chat_id)
            room.chat_enc = self._seal_chat(room, chat_id)
            await session.flush()
        return room

    async def set_up(
        self, session: AsyncSession, chat_id: int, master_id: int, chat_admins: list[int]
    ) -> Room | None:
        """Create the room with ``master_id`` as its Master; Telegram's chat admins start as
        Admins. None when the chat already has a room."""
        if await self.find(session, chat_id) is not None:
            return None
        room = Room(
            chat_key=self.chat_key(chat_id),
            master_id=master_id,
            guest_quota=self.settings.guest_quota,
        )
        session.add(room)
        await session.flush()
        room.chat_enc = self._seal_chat(room, chat_id)  # bound to the id the flush gave it
        for admin_id in sorted(set(chat_admins) - {master_id}):
            await users.get_or_create(session, admin_id)
            session.add(RoomMember(room_id=room.id, user_id=admin_id, role=Role.ADMIN.value))
        await session.commit()
        return room

    async def role_of(self, session: AsyncSession, room: Room, user_id: int) -> Role:
        if user_id == room.master_id:
            return Role.MASTER
        row = await session.get(RoomMember, (room.id, user_id))
        if row is not None:
            return Role(row.role)
        return Role(room.newcomer_role)

    async def has_role_row(self, session: AsyncSession, room: Room, user_id: int) -> bool:
        return (
            user_id == room.master_id
            or await session.get(RoomMember, (room.id, user_id)) is not None
        )

    async def admit_chat_admin(self, session: AsyncSession, room: Room, user_id: int) -> Role:
        """A Telegram admin the room has not given a role yet starts as Admin."""
        if await self.has_role_row(session, room, user_id):
            return await self.role_of(session, room, user_id)
        session.add(RoomMember(room_id=room.id, user_id=user_id, role=Role.ADMIN.value))
        await session.commit()
        return Role.ADMIN

    async def set_role(
        self, session: AsyncSession, room: Room, actor: Role, target_id: int, new: Role
    ) -> RoleChange:
        old = await self.role_of(session, room, target_id)
        if not may_assign(actor, old, new):
            return RoleChange(False, old, new)
        await users.get_or_create(session, target_id)
        row = await session.get(RoomMember, (room.id, target_id))
        if row is None:
            session.add(RoomMember(room_id=room.id, user_id=target_id, role=new.value))
        else:
            row.role = new.value
        await session.commit()
        return RoleChange(True, old, new)

    async def hand_over(self, session: AsyncSession, room: Room, new_master: int) -> int:
        """The new Master takes over (and pays from now on); the old one stays as Admin."""
        old = room.master_id
        await users.get_or_create(session, new_master)
        await session.execute(
            delete(RoomMember).where(
                RoomMember.room_id == room.id, RoomMember.user_id == new_master
            )
        )
        room.master_id = new_master
        session.add(RoomMember(room_id=room.id, user_id=old, role=Role.ADMIN.value))
        await session.commit()
        return old

    # -- settings -------------------------------------------------------------------------
    def models(self) -> list[ModelInfo]:
        """Models a room can use: those the operator configured (own keys are per person)."""
        return self.ai.preferences.models_for(set())

    async def model_of(self, session: AsyncSession, room: Room) -> ModelInfo | None:
        return await self._model(session, room.model)

    async def set_model(self, session: AsyncSession, room: Room, index: int) -> bool:
        models = list(self.ai.catalogue)
        if not 0 <= index < len(models) or models[index] not in self.models():
            return False
        room.model = models[index].id
        await session.commit()
        return True

    async def set_persona(self, session: AsyncSession, room: Room, index: int) -> bool:
        if not 0 <= index < len(personas.SHIPPED):
            return False
        room.persona = personas.SHIPPED[index].id
        await session.commit()
        return True

    async def set_budget(self, session: AsyncSession, room: Room, value: int) -> bool:
        if value not in self.settings.budget_steps:
            return False
        room.daily_budget = value
        await session.commit()
        return True

    async def set_cap(self, session: AsyncSession, room: Room, value: int) -> bool:
        if value not in self.settings.budget_steps:
            return False
        room.member_cap = value
        await session.commit()
        return True

    async def set_guest_quota(self, session: AsyncSession, room: Room, value: int) -> bool:
        if value not in self.settings.quota_steps:
            return False
        room.guest_quota = value
        await session.commit()
        return True

    async def toggle_guests(self, session: AsyncSession, room: Room) -> None:
        room.guests_may_ask = not room.guests_may_ask
        await session.commit()

    async def toggle_trigger(self, session: AsyncSession, room: Room) -> None:
        room.trigger = TRIGGER_ALL if room.trigger == TRIGGER_MENTION else TRIGGER_MENTION
        await session.commit()

    async def cycle_newcomer_role(self, session: AsyncSession, room: Room) -> None:
        current = Role(room.newcomer_role)
        index = NEWCOMER_ROLES.index(current) if current in NEWCOMER_ROLES else -1
        room.newcomer_role = NEWCOMER_ROLES[(index + 1) % len(NEWCOMER_ROLES)].value
        await session.commit()

    # -- conversation ---------------------------------------------------------------------
    async def new_context(
        self, session: AsyncSession, room: Room, chat_id: int, thread_id: int | None
    ) -> int:
        count = await self.context.clear(session, room.id, self.context.scope(chat_id, thread_id))
        await session.commit()
        return count

    async def exclude(
        self, session: AsyncSession, room: Room, user_id: int, role: Role, exchange: str
    ) -> Outcome:
        turns = await self.context.exchange(session, room.id, exchange)
        if not turns:
            return Outcome.GONE
        own = turns[0].author_id == user_id
        if not (
            allowed(role, Permission.EXCLUDE_ANY) or (own and allowed(role, Permission.EXCLUDE_OWN))
        ):
            return Outcome.DENIED
        await self.context.exclude(session, room.id, exchange)
        await session.commit()
        return Outcome.OK

    async def usage(self, session: AsyncSession, room: Room, user_id: int, role: Role) -> RoomUsage:
        lines = await self.spend.lines(session, room.id)
        everyone = allowed(role, Permission.USAGE_ALL)
        shown = lines if everyone else [line for line in lines if line.user_id == user_id]
        return RoomUsage(
            shown,
            sum(line.cost for line in lines),
            sum(line.replies for line in lines),
            room.daily_budget,
            room.member_cap,
            everyone,
        )

    # -- stop -----------------------------------------------------------------------------
    def stop(self, chat_id: int, draft_id: int, user_id: int, role: Role) -> bool:
        entry = self._inflight.get((chat_id, draft_id))
        if entry is None:
            return False
        owner, event = entry
        if not (
            allowed(role, Permission.STOP_ANY)
            or (owner == user_id and allowed(role, Permission.STOP_OWN))
        ):
            return False
        event.set()
        return True

    def stop_draft(self, chat_id: int, draft_id: int) -> bool:
        """Stop pressed on a private answer's draft: only its asker sees that draft."""
        entry = self._inflight.get((chat_id, draft_id))
        if entry is None or entry[0] != chat_id:
            return False
        entry[1].set()
        return True

    # -- answers --------------------------------------------------------------------------
    async def ask(
        self,
        session: AsyncSession,
        room: Room,
        role: Role,
        question: Question,
        sender: Sender,
        ui: AnswerUI,
        *,
        private: bool = False,
        reachable: Callable[[int], Awaitable[bool]] | None = None,
    ) -> Answer:
        """Answer ``question`` in the room (or, ``private``, in the asker's private chat)."""
        refusal = self._may_ask(room, role)
        if refusal is not None:
            return Answer(refusal)
        view = _RoomView(room.id, room.master_id, room.model, room.persona)
        guest = role is Role.GUEST
        # the answer runs for seconds in its own transactions: hold no lock meanwhile
        await session.commit()
        scope = self.context.scope(question.chat_id, question.thread_id)
        if private:
            if reachable is not None and not await reachable(question.user_id):
                return Answer(Outcome.UNREACHABLE)
            target = Target(question.user_id, True, None, None, _draft_id())
            return await self._answer(
                view, guest, question, scope, target, sender, ui, remember=False
            )
        sender = CountingSender(sender, self.window)
        key = question.chat_id
        ahead = self.queue.ahead(key)
        if ahead >= self.settings.queue_limit:
            return Answer(Outcome.BUSY)
        placeholder: int | None = None
        if ahead:
            placeholder = await sender.send_message(
                question.chat_id,
                ui.waiting(ahead),
                html=True,
                thread_id=question.thread_id,
                reply_to=question.message_id,
                markup=None,
            )
        async with self.queue.turn(key):
            out = (
                sender
                if placeholder is None
                else ReuseSender(sender, question.chat_id, placeholder)
            )
            target = Target(
                question.chat_id, False, question.thread_id, question.message_id, _draft_id()
            )
            answer = await self._answer(
                view, guest, question, scope, target, out, ui, remember=True
            )
        if placeholder is not None and not answer.message_ids:
            answer.placeholder = placeholder
        return answer

    async def regenerate_refusal(
        self, session: AsyncSession, room: Room, role: Role, user_id: int, exchange: str
    ) -> Outcome | None:
        """Why ``user_id`` may not regenerate ``exchange`` (None: they may)."""
        asked = [
            t for t in await self.context.exchange(session, room.id, exchange) if t.role == "user"
        ]
        if not asked:
            return Outcome.GONE
        own = asked[0].author_id == user_id
        if not (
            allowed(role, Permission.REGENERATE_ANY)
            or (own and allowed(role, Permission.REGENERATE_OWN))
        ):
            return Outcome.DENIED
        return self._may_ask(room, role)

    async def regenerate(
        self,
        session: AsyncSession,
        room: Room,
        role: Role,
        user_id: int,
        exchange: str,
        chat_id: int,
        thread_id: int | None,
        message_id: int,
        sender: Sender,
        ui: AnswerUI,
    ) -> Answer:
        """A new answer to the same question, in place of the old one (same message, same spot
        in the conversation). The permission is checked again here, whatever the caller did."""
        refusal = await self.regenerate_refusal(session, room, role, user_id, exchange)
        if refusal is not None:
            return Answer(refusal)
        asked = [
            t for t in await self.context.exchange(session, room.id, exchange) if t.role == "user"
        ]
        view = _RoomView(room.id, room.master_id, room.model, room.persona)
        await session.commit()
        sender = CountingSender(sender, self.window)
        question = Question(chat_id, thread_id, user_id, asked[0].name, asked[0].text, message_id)
        scope = self.context.scope(chat_id, thread_id)
        async with self.queue.turn(chat_id):
            target = Target(chat_id, False, thread_id, None, _draft_id())
            return await self._answer(
                view,
                role is Role.GUEST,
                question,
                scope,
                target,
                ReuseSender(sender, chat_id, message_id),
                ui,
                remember=True,
                replace=(exchange, asked[0].id),
            )

    def _may_ask(self, room: Room, role: Role) -> Outcome | None:
        if not allowed(role, Permission.ASK):
            return Outcome.DENIED
        if role is Role.GUEST and not room.guests_may_ask:
            return Outcome.GUESTS_OFF
        return None

    async def _answer(
        self,
        room: _RoomView,
        guest: bool,
        question: Question,
        scope: Scope,
        target: Target,
        sender: Sender,
        ui: AnswerUI,
        *,
        remember: bool,
        replace: tuple[str, int] | None = None,
    ) -> Answer:
        ai = self.ai
        # A new question is charged once however often its update is handled; a regenerate
        # (``replace``) is a new answer the asker chose to pay for.
        charge_key = (
            None
            if replace is not None
            else prompt_charge_key(self.cipher, question.chat_id, question.message_id)
        )
        async with self.sessionmaker() as session:
            model = await self._model(session, room.model)
            if model is None:
                return Answer(Outcome.NO_MODEL)
            own = await ai.keys.providers(session, question.user_id)
            api_key = (
                await ai.keys.get(session, question.user_id, model.provider)
                if model.provider in own
                else None
            )
            before = replace[1] if replace is not None else None
            turns = await self.context.turns(session, room.id, scope, before=before)
        if api_key is None and not ai.registry.is_configured(model.provider):
            return Answer(Outcome.NO_MODEL, model=model)
        system = personas.system_prompt(room.persona, None) + GROUP_INSTRUCTION
        prompt = spoken(question.name, question.text)
        counter = TokenCounter(model)
        reply_room = min(ai.settings.max_reply_tokens, model.context // 4)
        # no summaries in rooms: what does not fit the window is left out, oldest first
        the_plan = plan(
            system=system,
            turns=[t.as_turn() for t in turns],
            summary=None,
            prompt=prompt,
            counter=counter,
            window=model.context,
            reply_room=reply_room,
            trigger_ratio=1.0,
        )
        prompt_in = prompt_margin(the_plan.prompt_tokens, counter.exact)
        counts = api_key is None and not model.free
        try:
            hold = await self.spend.hold(
                room.id,
                question.user_id,
                minimal=model.cost(prompt_in, ai.settings.min_reply_tokens),
                full=model.cost(prompt_in, ai.settings.max_reply_tokens),
                guest=guest,
                counts=counts,
            )
        except LimitReached as exc:
            return Answer(Outcome(exc.limit.value), model=model, allowed=exc.allowed, used=exc.used)
        # The Master's credits pay (their free allowance first), unless the asker's own key does.
        payer = question.user_id if api_key is not None else room.master_id
        try:
            reservation = await ai.meter.reserve(
                payer,
                model,
                the_plan.prompt_tokens,
                own_key=api_key is not None,
                exact_count=counter.exact,
                charge_key=charge_key,
            )
        except NotEnoughCredits as exc:
            await self.spend.release(hold)
            return Answer(Outcome.NO_CREDITS, model=model, balance=exc.balance, needed=exc.needed)
        max_out = max(1, min(reservation.max_output_tokens, reply_room))
        if counts:
            max_out = max(1, min(max_out, output_tokens_for(model, hold.amount, prompt_in)))
        return await self._stream(
            room,
            question,
            scope,
            target,
            sender,
            ui,
            model,
            api_key,
            the_plan.messages,
            counter,
            max_out,
            hold,
            reservation,
            remember=remember,
            replace=replace[0] if replace is not None else None,
        )

    async def _model(self, session: AsyncSession, wanted: str | None) -> ModelInfo | None:
        """The room's choice if usable, else the operator's default, else the first usable."""
        usable = self.models()
        for model_id in (wanted, await self.ai.preferences.default_model_id(session)):
            model = self.ai.catalogue.get(model_id) if model_id else None
            if model is not None and model in usable:
                return model
        return usable[0] if usable else None

    async def _stream(
        self,
        room: _RoomView,
        question: Question,
        scope: Scope,
        target: Target,
        sender: Sender,
        ui: AnswerUI,
        model: ModelInfo,
        api_key: str | None,
        messages: list[Any],
        counter: TokenCounter,
        max_out: int,
        hold: Hold,
        reservation: Reservation,
        *,
        remember: bool,
        replace: str | None,
    ) -> Answer:
        ai = self.ai
        stop = asyncio.Event()
        self._inflight[(target.chat_id, target.draft_id)] = (question.user_id, stop)
        # a private answer streams as a draft, whose own stop control Telegram shows
        stop_markup = None if target.private else ui.stop_markup(target.draft_id)
        if not target.private:
            sender = ThinningSender(
                sender, optional=stop_markup, room_left=lambda: self._slots_left(target.chat_id)
            )
        presenter = StreamPresenter(sender, target, pace=ai.pace, stop_markup=stop_markup)
        presenter.start_typing()
        parts: list[str] = []
        reported: Usage | None = None
        settled = False
        exchange = replace or uuid.uuid4().hex
        try:
            try:
                stream = ai.registry.stream(
                    model.provider, messages, model.id, api_key, max_tokens=max_out
                )
                stopped, reported = await self._consume(stream, presenter, parts, stop)
            except ProviderError as exc:
                if presenter.visible:
                    await presenter.finish(suffix=ui.failed_suffix)
                else:
                    await presenter.abort()
                await ai.meter.release(reservation)
                await self.spend.release(hold)
                settled = True
                log.info("room reply failed: %s %s", exc.provider, exc.kind)
                return Answer(Outcome.FAILED, model=model, error=exc.kind)
            text = "".join(parts)
            if not text.strip() and not stopped:
                await presenter.abort()
                await ai.meter.release(reservation)
                await self.spend.release(hold)
                settled = True
                return Answer(Outcome.EMPTY, model=model)
            usage = reported or Usage(
                counter.messages(m.content for m in messages), counter.text(text)
            )
            cost = await ai.meter.settle(reservation, usage)
            await self.spend.settle(hold, cost if reservation.payer is not Payer.OWN_KEY else 0)
            settled = True
            if remember and text.strip():
                await self._remember(room.id, scope, exchange, question, counter, text, replace)
            delivery = await presenter.finish(
                markup=ui.answer_markup(exchange) if remember and text.strip() else None,
                suffix=ui.stopped_suffix if stopped else "",
            )
            await self._log(room, question, model, usage, cost, text, private=not remember)
            return Answer(
                Outcome.STOPPED if stopped else Outcome.OK,
                model=model,
                cost=cost,
                exchange=exchange,
                message_ids=list(delivery.message_ids),
            )
        finally:
            self._inflight.pop((target.chat_id, target.draft_id), None)
            if not settled:
                # cancelled or failed on the way (Telegram down, shutdown): nothing counted
                await presenter.abort()
                with contextlib.suppress(Exception):
                    await ai.meter.release(reservation)
                with contextlib.suppress(Exception):
                    await self.spend.release(hold)

    def _slots_left(self, chat_id: int) -> bool:
        """Whether an optional streaming update still fits this group's minute, with room for
        the final answer of everyone waiting and the reserve."""
        s = self.settings
        needed = s.group_reserve + 2 * self.queue.ahead(chat_id)
        return self.window.count(chat_id) + needed < s.group_per_minute

    @staticmethod
    async def _consume(
        stream: Any, presenter: StreamPresenter, parts: list[str], stop: asyncio.Event
    ) -> tuple[bool, Usage | None]:
        """Feed the presenter until the stream ends or someone presses stop (True)."""
        usage: list[Usage] = []

        async def consume() -> None:
            async for chunk in stream:
                if chunk.text:
                    parts.append(chunk.text)
                    presenter.feed(chunk.text)
                if chunk.usage is not None:
                    usage.append(chunk.usage)

        consumer = asyncio.create_task(consume())
        stopper = asyncio.create_task(stop.wait())
        try:
            done, _ = await asyncio.wait({consumer, stopper}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            consumer.cancel()
            stopper.cancel()
            raise
        if consumer in done:
            stopper.cancel()
            consumer.result()  # raises the ProviderError, if any
            return False, usage[-1] if usage else None
        consumer.cancel()  # closes the provider's HTTP stream
        with contextlib.suppress(asyncio.CancelledError, ProviderError):
            await consumer
        return True, usage[-1] if usage else None

    async def _remember(
        self,
        room_id: int,
        scope: Scope,
        exchange: str,
        question: Question,
        counter: TokenCounter,
        text: str,
        replace: str | None,
    ) -> None:
        async with self.sessionmaker() as session:
            if replace is not None:
                await self.context.replace_reply(
                    session, room_id, replace, text, counter.message(text)
                )
            else:
                await self.context.add_exchange(
                    session,
                    room_id,
                    scope,
                    exchange,
                    question.user_id,
                    question.name,
                    (question.text, counter.message(spoken(question.name, question.text))),
                    (text, counter.message(text)),
                )
            await session.commit()

    async def _log(
        self,
        room: _RoomView,
        question: Question,
        model: ModelInfo,
        usage: Usage,
        cost: int,
        text: str,
        *,
        private: bool,
    ) -> None:
        """The exchange goes to the Master's log server (Rooms topic), as the panel says."""
        if self.exchange_log is None:
            return
        body = {
            "room": room.id,
            "asker": question.user_id,
            "name": question.name,
            "prompt": question.text,
            "reply": text,
            "private": private,
            "model": model.id,
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "cost": cost,
        }
        try:
            await self.exchange_log.record(room.master_id, LOG_KIND, body)
        except Exception:  # logging must not cost the room its answer
            log.exception("room exchange log failed")


def _draft_id() -> int:
    return secrets.randbelow(2**31 - 2) + 1


__all__ = [
    "ASSIGNABLE",
    "TRIGGERS",
    "Answer",
    "AnswerUI",
    "Outcome",
    "Question",
    "RoleChange",
    "RoomService",
    "RoomUsage",
]
