"""AI rooms in groups and forum topics: the room panel (`/room`), roles (`/role`), questions
(mention, reply, `/ask`, or every message), `/private`, `/new`, and the buttons under answers.

Every command and button asks the rooms service for the presser's role and checks the permission
matrix (services/rooms/roles.py) here, on the server. A group without a room keeps the plain AI
chat answers of handlers/chat.py: these handlers step aside (``SkipHandler``) there.
"""

from __future__ import annotations

import logging
from html import escape

from aiogram import Bot, F, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.enums import ChatMemberStatus, ChatType
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramForbiddenError
from aiogram.filters import Command, CommandObject
from aiogram.types import (
    CallbackQuery,
    ChatMemberUpdated,
    InlineKeyboardMarkup,
    Message,
    MessageGenerationStopped,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models.logserver import LogServerState
from bot.db.models.rooms import Room
from bot.i18n import Html, I18n
from bot.state import KeyValueState
from handlers.chat import _addressed_text
from keyboards.rooms import (
    NEEDS,
    AnswerAction,
    PanelAction,
    RoomAnswerCD,
    RoomPanelCD,
    answer_keyboard,
    back_keyboard,
    handover_keyboard,
    models_keyboard,
    panel_keyboard,
    personas_keyboard,
    setup_keyboard,
    start_bot_keyboard,
    steps_keyboard,
    stop_keyboard,
)
from services.ai.telegram import BotSender
from services.logserver import LogServerService
from services.rooms import Answer, AnswerUI, Outcome, Permission, Question, Role, RoomService
from services.rooms.roles import ASSIGNABLE, allowed
from services.rooms.service import TRIGGER_ALL

log = logging.getLogger(__name__)

ADDER_TTL = 24 * 3600
HANDOVER_TTL = 3600
_ADMIN_STATUSES = {ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.CREATOR}


def _thread(message: Message) -> int | None:
    return message.message_thread_id if message.is_topic_message else None


def _adder_key(rooms: RoomService, chat_id: int) -> str:
    return "room:adder:" + rooms.chat_key(chat_id)


async def adder_of(kv: KeyValueState, rooms: RoomService, chat_id: int) -> str | None:
    """Who added the bot. Looked up under every known master key: one stored before a
    master-key rotation is still found (it lives 24 hours)."""
    for key in rooms.chat_keys(chat_id):
        found = await kv.get("room:adder:" + key)
        if found is not None:
            return found
    return None


def _handover_key(room: Room) -> str:
    return f"room:handover:{room.id}"


async def _member_status(bot: Bot, chat_id: int, user_id: int) -> ChatMemberStatus | None:
    try:
        member = await bot.get_chat_member(chat_id, user_id)
    except TelegramAPIError:
        return None
    return ChatMemberStatus(member.status)


async def _name_of(bot: Bot, chat_id: int, user_id: int, fallback: str) -> str:
    try:
        member = await bot.get_chat_member(chat_id, user_id)
    except TelegramAPIError:
        return fallback
    return member.user.full_name or fallback


async def _role(
    session: AsyncSession,
    rooms: RoomService,
    room: Room,
    bot: Bot,
    chat_id: int,
    user_id: int,
    need: Permission,
) -> Role:
    """The user's role; a Telegram chat admin the room has not ranked yet starts as Admin (asked
    of Telegram only when the matrix would otherwise refuse)."""
    role = await rooms.role_of(session, room, user_id)
    if allowed(role, need) or not allowed(Role.ADMIN, need):
        return role
    if await rooms.has_role_row(session, room, user_id):
        return role
    if await _member_status(bot, chat_id, user_id) in _ADMIN_STATUSES:
        return await rooms.admit_chat_admin(session, room, user_id)
    return role


def _role_name(i18n: I18n, role: Role) -> str:
    return i18n(f"rooms-role-{role.value}")


def _denied(i18n: I18n, role: Role) -> str:
    return i18n("rooms-denied", role=_role_name(i18n, role))


def _ui(i18n: I18n, room_id: int) -> AnswerUI:
    return AnswerUI(
        answer_markup=lambda exchange: answer_keyboard(i18n, room_id, exchange),
        stop_markup=lambda draft: stop_keyboard(i18n, room_id, draft),
        waiting=lambda ahead: i18n("rooms-waiting", ahead=ahead),
        stopped_suffix="\n\n" + i18n("chat-stopped-suffix"),
        failed_suffix="\n\n" + i18n("chat-failed-suffix"),
    )


def _refusal(i18n: I18n, answer: Answer, role: Role) -> str | None:
    outcome = answer.outcome
    if outcome in (Outcome.OK, Outcome.STOPPED):
        return None
    if outcome is Outcome.DENIED:
        return _denied(i18n, role)
    if outcome is Outcome.FAILED:
        kind = (answer.error.value if answer.error else "unavailable").replace("_", "-")
        return i18n(f"chat-failed-{kind}", model=answer.model.name if answer.model else "AI")
    if outcome is Outcome.NO_MODEL:
        return i18n("chat-no-model")
    if outcome is Outcome.EMPTY:
        return i18n("chat-empty")
    return i18n(
        f"rooms-refused-{outcome.value}",
        allowed=answer.allowed,
        used=answer.used,
        needed=answer.needed,
        balance=answer.balance,
    )


async def _report(message: Message, bot: Bot, i18n: I18n, answer: Answer, role: Role) -> None:
    text = _refusal(i18n, answer, role)
    if text is None:
        return
    if answer.placeholder is not None:
        try:
            await bot.edit_message_text(
                text=text, chat_id=message.chat.id, message_id=answer.placeholder
            )
            return
        except TelegramAPIError:
            log.info("waiting note not replaced; answering anew")
    await message.reply(text)


# ---------------------------------------------------------------------- asking


async def _ask(
    message: Message,
    text: str,
    session: AsyncSession,
    i18n: I18n,
    bot: Bot,
    rooms: RoomService,
    room: Room,
    *,
    private: bool = False,
    quiet: bool = False,
) -> None:
    sender = message.from_user
    if sender is None:
        return
    if not text:
        await message.reply(i18n("chat-group-empty"))
        return
    role = await _role(session, rooms, room, bot, message.chat.id, sender.id, Permission.ASK)
    if quiet and not allowed(role, Permission.ASK):
        return  # "every message" mode: a Reader's chatter is not a question
    question = Question(
        chat_id=message.chat.id,
        thread_id=_thread(message),
        user_id=sender.id,
        name=sender.full_name,
        text=text,
        message_id=message.message_id,
    )

    async def reachable(user_id: int) -> bool:
        try:
            await bot.send_chat_action(user_id, "typing")
        except (TelegramForbiddenError, TelegramBadRequest):
            return False
        return True

    answer = await rooms.ask(
        session,
        room,
        role,
        question,
        BotSender(bot),
        _ui(i18n, room.id),
        private=private,
        reachable=reachable,
    )
    if answer.outcome is Outcome.UNREACHABLE:
        me = await bot.me()
        await message.reply(
            i18n("rooms-private-start", bot=me.username or ""),
            reply_markup=start_bot_keyboard(i18n, me.username or ""),
        )
        return
    await _report(message, bot, i18n, answer, role)


async def room_text(
    message: Message, session: AsyncSession, i18n: I18n, bot: Bot, rooms: RoomService
) -> None:
    room = await rooms.find(session, message.chat.id)
    if room is None:
        raise SkipHandler  # no room here: the plain group answers of the AI chat
    text = await _addressed_text(message, bot)
    if text is None:
        if room.trigger != TRIGGER_ALL:
            return
        text = " ".join((message.text or "").split())
        await _ask(message, text, session, i18n, bot, rooms, room, quiet=True)
        return
    await _ask(message, text, session, i18n, bot, rooms, room)


async def ask_command(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    i18n: I18n,
    bot: Bot,
    rooms: RoomService,
) -> None:
    room = await rooms.find(session, message.chat.id)
    if room is None:
        raise SkipHandler
    await _ask(message, " ".join((command.args or "").split()), session, i18n, bot, rooms, room)


async def private_command(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    i18n: I18n,
    bot: Bot,
    rooms: RoomService,
) -> None:
    room = await rooms.find(session, message.chat.id)
    if room is None:
        await message.reply(i18n("rooms-none"))
        return
    text = " ".join((command.args or "").split())
    await _ask(message, text, session, i18n, bot, rooms, room, private=True)


async def new_command(
    message: Message, session: AsyncSession, i18n: I18n, bot: Bot, rooms: RoomService
) -> None:
    room = await rooms.find(session, message.chat.id)
    if room is None or message.from_user is None:
        raise SkipHandler
    role = await _role(
        session, rooms, room, bot, message.chat.id, message.from_user.id, Permission.NEW_CONTEXT
    )
    if not allowed(role, Permission.NEW_CONTEXT):
        await message.reply(_denied(i18n, role))
        return
    await rooms.new_context(session, room, message.chat.id, _thread(message))
    await message.reply(i18n("rooms-new-done"))


# ---------------------------------------------------------------------- the panel


async def _panel_text(
    session: AsyncSession,
    i18n: I18n,
    bot: Bot,
    rooms: RoomService,
    logserver: LogServerService,
    room: Room,
    chat_id: int,
    viewer: int,
) -> str:
    role = await rooms.role_of(session, room, viewer)
    model = await rooms.model_of(session, room)
    master = await _name_of(bot, chat_id, room.master_id, i18n("rooms-master-unknown"))
    server = await logserver.get(session, room.master_id)
    logged = server is not None and server.state is LogServerState.ACTIVE
    unlimited = i18n("rooms-unlimited")
    lines = [
        i18n("rooms-panel-title"),
        i18n(
            "rooms-panel-master",
            name=Html(f'<a href="tg://user?id={room.master_id}">{escape(master)}</a>'),
        ),
        i18n("rooms-panel-your-role", role=_role_name(i18n, role)),
        i18n("rooms-panel-model", model=model.name if model else "—"),
        i18n("rooms-panel-persona", persona=i18n(f"chat-persona-{room.persona or 'assistant'}")),
        i18n(
            "rooms-panel-budget",
            budget=str(room.daily_budget) if room.daily_budget else unlimited,
            cap=str(room.member_cap) if room.member_cap else unlimited,
        ),
        i18n(
            "rooms-panel-guests",
            state=i18n("rooms-on" if room.guests_may_ask else "rooms-off"),
            quota=room.guest_quota,
        ),
        i18n(f"rooms-panel-trigger-{room.trigger}"),
        i18n("rooms-panel-newcomer", role=_role_name(i18n, Role(room.newcomer_role))),
        i18n("rooms-panel-logged" if logged else "rooms-panel-not-logged"),
    ]
    return "\n".join(lines)


async def room_command(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    i18n: I18n,
    bot: Bot,
    kv: KeyValueState,
    rooms: RoomService,
    logserver: LogServerService,
) -> None:
    sender = message.from_user
    if sender is None:
        return
    if await logserver.by_chat(session, message.chat.id) is not None:
        await message.reply(i18n("rooms-is-logserver"))
        return
    room = await rooms.find(session, message.chat.id)
    if room is None:
        await message.reply(i18n("rooms-setup-offer"), reply_markup=setup_keyboard(i18n))
        return
    sub = (command.args or "").strip().lower()
    if sub == "usage":
        role = await _role(
            session, rooms, room, bot, message.chat.id, sender.id, Permission.USAGE_ALL
        )
        await message.reply(
            await _usage_text(session, i18n, bot, rooms, room, message.chat.id, sender.id, role)
        )
        return
    if sub == "handover":
        await _offer_handover(message, session, i18n, bot, kv, rooms, room)
        return
    text = await _panel_text(session, i18n, bot, rooms, logserver, room, message.chat.id, sender.id)
    await message.answer(text, reply_markup=panel_keyboard(i18n, room.id))


async def _usage_text(
    session: AsyncSession,
    i18n: I18n,
    bot: Bot,
    rooms: RoomService,
    room: Room,
    chat_id: int,
    viewer: int,
    role: Role,
) -> str:
    usage = await rooms.usage(session, room, viewer, role)
    unlimited = i18n("rooms-unlimited")
    lines = [
        i18n(
            "rooms-usage-title" if usage.everyone else "rooms-usage-own-title",
            cost=usage.total_cost,
            replies=usage.total_replies,
            budget=str(usage.budget) if usage.budget else unlimited,
        )
    ]
    for line in usage.lines[:20]:
        name = await _name_of(bot, chat_id, line.user_id, str(line.user_id))
        lines.append(i18n("rooms-usage-line", name=name, replies=line.replies, cost=line.cost))
    if not usage.lines:
        lines.append(i18n("rooms-usage-none"))
    return "\n".join(lines)


async def _offer_handover(
    message: Message,
    session: AsyncSession,
    i18n: I18n,
    bot: Bot,
    kv: KeyValueState,
    rooms: RoomService,
    room: Room,
) -> None:
    sender = message.from_user
    assert sender is not None
    role = await rooms.role_of(session, room, sender.id)
    if not allowed(role, Permission.HAND_OVER):
        await message.reply(_denied(i18n, role))
        return
    replied = message.reply_to_message
    target = replied.from_user if replied is not None else None
    if target is None or target.is_bot or target.id == sender.id:
        await message.reply(i18n("rooms-handover-how"))
        return
    await kv.put(_handover_key(room), str(target.id), HANDOVER_TTL)
    await message.answer(
        i18n(
            "rooms-handover-offer",
            name=Html(f'<a href="tg://user?id={target.id}">{escape(target.full_name)}</a>'),
        ),
        reply_markup=handover_keyboard(i18n, room.id),
    )


async def role_command(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    i18n: I18n,
    bot: Bot,
    rooms: RoomService,
) -> None:
    sender = message.from_user
    room = await rooms.find(session, message.chat.id)
    if room is None or sender is None:
        await message.reply(i18n("rooms-none"))
        return
    role = await _role(
        session, rooms, room, bot, message.chat.id, sender.id, Permission.MANAGE_ROLES
    )
    if not allowed(role, Permission.MANAGE_ROLES):
        await message.reply(_denied(i18n, role))
        return
    wanted = (command.args or "").strip().lower()
    replied = message.reply_to_message
    target = replied.from_user if replied is not None else None
    new = next(
        (r for r in ASSIGNABLE if r.value == wanted or _role_name(i18n, r).lower() == wanted), None
    )
    if target is None or target.is_bot or new is None:
        await message.reply(i18n("rooms-role-how"))
        return
    change = await rooms.set_role(session, room, role, target.id, new)
    if not change.done:
        await message.reply(i18n("rooms-role-refused", role=_role_name(i18n, change.old)))
        return
    await message.reply(i18n("rooms-role-set", name=target.full_name, role=_role_name(i18n, new)))


async def _pressed_room(
    query: CallbackQuery, session: AsyncSession, i18n: I18n, rooms: RoomService, room_id: int
) -> tuple[Room, Message] | None:
    """The room behind a pressed button: it must be the room of the chat the button is in."""
    message = query.message
    if not isinstance(message, Message):
        await query.answer(i18n("error-button-expired"), show_alert=True)
        return None
    room = await rooms.find(session, message.chat.id)
    if room is None or room.id != room_id:
        await query.answer(i18n("rooms-button-stale"), show_alert=True)
        return None
    return room, message


async def panel_pressed(
    query: CallbackQuery,
    callback_data: RoomPanelCD,
    session: AsyncSession,
    i18n: I18n,
    bot: Bot,
    kv: KeyValueState,
    rooms: RoomService,
    logserver: LogServerService,
) -> None:
    action = callback_data.action
    if action is PanelAction.SETUP:
        await _setup_pressed(query, session, i18n, bot, kv, rooms, logserver)
        return
    found = await _pressed_room(query, session, i18n, rooms, callback_data.room)
    if found is None:
        return
    room, message = found
    chat_id = message.chat.id
    presser = query.from_user.id
    if action in (PanelAction.HANDOVER_YES, PanelAction.HANDOVER_NO):
        await _handover_pressed(query, message, session, i18n, bot, kv, rooms, room, action)
        return
    need = NEEDS[action]
    role = await _role(session, rooms, room, bot, chat_id, presser, need)
    if not allowed(role, need):
        await query.answer(_denied(i18n, role), show_alert=True)
        return
    value = callback_data.value
    text: str | None = None
    markup: InlineKeyboardMarkup | None = None
    changed = True
    if action is PanelAction.MODEL:
        indexes = {m.id: i for i, m in enumerate(rooms.ai.catalogue)}
        current = await rooms.model_of(session, room)
        text = i18n("rooms-pick-model")
        markup = models_keyboard(
            i18n, room.id, rooms.models(), indexes, current.id if current else None
        )
    elif action is PanelAction.PERSONA:
        text, markup = i18n("rooms-pick-persona"), personas_keyboard(i18n, room.id, room.persona)
    elif action is PanelAction.BUDGET:
        text = i18n("rooms-pick-budget")
        markup = steps_keyboard(
            i18n, room.id, PanelAction.BUDGET_SET, rooms.settings.budget_steps, room.daily_budget
        )
    elif action is PanelAction.CAP:
        text = i18n("rooms-pick-cap")
        markup = steps_keyboard(
            i18n, room.id, PanelAction.CAP_SET, rooms.settings.budget_steps, room.member_cap
        )
    elif action is PanelAction.QUOTA:
        text = i18n("rooms-pick-quota")
        markup = steps_keyboard(
            i18n, room.id, PanelAction.QUOTA_SET, rooms.settings.quota_steps, room.guest_quota
        )
    elif action is PanelAction.ROLES:
        text, markup = i18n("rooms-roles-help"), back_keyboard(i18n, room.id)
    elif action is PanelAction.USAGE:
        text = await _usage_text(session, i18n, bot, rooms, room, chat_id, presser, role)
        markup = back_keyboard(i18n, room.id)
    elif action is PanelAction.MODEL_SET:
        changed = await rooms.set_model(session, room, value)
    elif action is PanelAction.PERSONA_SET:
        changed = await rooms.set_persona(session, room, value)
    elif action is PanelAction.BUDGET_SET:
        changed = await rooms.set_budget(session, room, value)
    elif action is PanelAction.CAP_SET:
        changed = await rooms.set_cap(session, room, value)
    elif action is PanelAction.QUOTA_SET:
        changed = await rooms.set_guest_quota(session, room, value)
    elif action is PanelAction.GUESTS:
        await rooms.toggle_guests(session, room)
    elif action is PanelAction.TRIGGER:
        await rooms.toggle_trigger(session, room)
    elif action is PanelAction.NEWCOMER:
        await rooms.cycle_newcomer_role(session, room)
    if not changed:
        await query.answer(i18n("rooms-value-invalid"), show_alert=True)
        return
    if text is None:
        text = await _panel_text(session, i18n, bot, rooms, logserver, room, chat_id, presser)
        markup = panel_keyboard(i18n, room.id)
        await query.answer(i18n("rooms-saved") if action is not PanelAction.HOME else None)
    else:
        await query.answer()
    try:
        await message.edit_text(text, reply_markup=markup)
    except TelegramBadRequest as exc:
        if "not modified" not in exc.message.lower():
            raise


async def _setup_pressed(
    query: CallbackQuery,
    session: AsyncSession,
    i18n: I18n,
    bot: Bot,
    kv: KeyValueState,
    rooms: RoomService,
    logserver: LogServerService,
) -> None:
    message = query.message
    if not isinstance(message, Message) or message.chat.type == ChatType.PRIVATE:
        await query.answer(i18n("error-button-expired"), show_alert=True)
        return
    chat_id = message.chat.id
    presser = query.from_user.id
    if await logserver.by_chat(session, chat_id) is not None:
        await query.answer(i18n("rooms-is-logserver"), show_alert=True)
        return
    if await rooms.find(session, chat_id) is not None:
        await query.answer(i18n("rooms-already"), show_alert=True)
        return
    adder = await adder_of(kv, rooms, chat_id)
    status = await _member_status(bot, chat_id, presser)
    if status is not ChatMemberStatus.CREATOR and adder != str(presser):
        await query.answer(i18n("rooms-setup-only"), show_alert=True)
        return
    try:
        admins = [
            m.user.id for m in await bot.get_chat_administrators(chat_id) if not m.user.is_bot
        ]
    except TelegramAPIError:
        admins = []
    room = await rooms.set_up(session, chat_id, presser, admins)
    if room is None:
        await query.answer(i18n("rooms-already"), show_alert=True)
        return
    await query.answer(i18n("rooms-setup-done"))
    text = await _panel_text(session, i18n, bot, rooms, logserver, room, chat_id, presser)
    await message.edit_text(text, reply_markup=panel_keyboard(i18n, room.id))


async def _handover_pressed(
    query: CallbackQuery,
    message: Message,
    session: AsyncSession,
    i18n: I18n,
    bot: Bot,
    kv: KeyValueState,
    rooms: RoomService,
    room: Room,
    action: PanelAction,
) -> None:
    nominee = await kv.get(_handover_key(room))
    presser = query.from_user
    if nominee is None:
        await query.answer(i18n("rooms-handover-expired"), show_alert=True)
        return
    # the nominee decides; the Master may withdraw the offer
    if action is PanelAction.HANDOVER_NO and presser.id in (int(nominee), room.master_id):
        await kv.delete(_handover_key(room))
        await query.answer()
        await message.edit_text(i18n("rooms-handover-declined"), reply_markup=None)
        return
    if presser.id != int(nominee):
        await query.answer(i18n("rooms-handover-not-you"), show_alert=True)
        return
    await kv.delete(_handover_key(room))
    await rooms.hand_over(session, room, presser.id)
    await query.answer(i18n("rooms-handover-done-short"))
    await message.edit_text(
        i18n(
            "rooms-handover-done",
            name=Html(f'<a href="tg://user?id={presser.id}">{escape(presser.full_name)}</a>'),
        ),
        reply_markup=None,
    )


# ---------------------------------------------------------------------- answer buttons


async def answer_pressed(
    query: CallbackQuery,
    callback_data: RoomAnswerCD,
    session: AsyncSession,
    i18n: I18n,
    bot: Bot,
    rooms: RoomService,
) -> None:
    found = await _pressed_room(query, session, i18n, rooms, callback_data.room)
    if found is None:
        return
    room, message = found
    presser = query.from_user.id
    chat_id = message.chat.id
    action = callback_data.action
    if action is AnswerAction.STOP:
        role = await _role(session, rooms, room, bot, chat_id, presser, Permission.STOP_ANY)
        ok = callback_data.ref.isdigit() and rooms.stop(
            chat_id, int(callback_data.ref), presser, role
        )
        await query.answer(None if ok else i18n("chat-stop-gone"))
        return
    if action is AnswerAction.EXCLUDE:
        role = await _role(session, rooms, room, bot, chat_id, presser, Permission.EXCLUDE_ANY)
        outcome = await rooms.exclude(session, room, presser, role, callback_data.ref)
        if outcome is Outcome.OK:
            await query.answer(i18n("rooms-excluded"))
            try:
                await message.edit_reply_markup(reply_markup=None)
            except TelegramAPIError as exc:
                log.info("buttons not removed: %s", exc.message)
        elif outcome is Outcome.DENIED:
            await query.answer(_denied(i18n, role), show_alert=True)
        else:
            await query.answer(i18n("chat-exclude-gone"), show_alert=True)
        return
    role = await _role(session, rooms, room, bot, chat_id, presser, Permission.REGENERATE_ANY)
    refusal = await rooms.regenerate_refusal(session, room, role, presser, callback_data.ref)
    if refusal is Outcome.GONE:
        await query.answer(i18n("rooms-regenerate-gone"), show_alert=True)
        return
    if refusal is not None:
        await query.answer(_refusal(i18n, Answer(refusal), role), show_alert=True)
        return
    # answer the press at once: the new answer streams into the same message meanwhile
    await query.answer(i18n("rooms-regenerating"))
    answer = await rooms.regenerate(
        session,
        room,
        role,
        presser,
        callback_data.ref,
        chat_id,
        _thread(message),
        message.message_id,
        BotSender(bot),
        _ui(i18n, room.id),
    )
    text = (
        i18n("rooms-regenerate-gone")
        if answer.outcome is Outcome.GONE
        else _refusal(i18n, answer, role)
    )
    if text is not None:
        await message.reply(text)


# ---------------------------------------------------------------------- membership


async def bot_added(
    event: ChatMemberUpdated,
    session: AsyncSession,
    i18n: I18n,
    bot: Bot,
    kv: KeyValueState,
    rooms: RoomService,
    logserver: LogServerService,
) -> None:
    """Remember who added the bot (they may set the room up); offer the setup where the group
    cannot be a log server being onboarded (those are forums the bot joins as an admin)."""
    if await logserver.by_chat(session, event.chat.id) is not None:
        raise SkipHandler
    await kv.put(_adder_key(rooms, event.chat.id), str(event.from_user.id), ADDER_TTL)
    joined_as_admin = event.new_chat_member.status == ChatMemberStatus.ADMINISTRATOR
    if event.chat.is_forum and joined_as_admin:
        raise SkipHandler
    if await rooms.find(session, event.chat.id) is not None:
        return
    # One message: who the bot is, then the room offer (the `new_chat_members` service message
    # that comes with this update gets no answer of its own).
    me = await bot.me()
    text = i18n("group-hello", bot=me.username or "") + "\n\n" + i18n("rooms-setup-offer")
    try:
        await bot.send_message(event.chat.id, text, reply_markup=setup_keyboard(i18n))
    except TelegramAPIError as exc:
        log.info("room setup not offered: %s", exc.message)


async def draft_stopped(event: MessageGenerationStopped, rooms: RoomService) -> None:
    """Stop on the draft of a private room answer; other drafts are the AI chat's."""
    if not rooms.stop_draft(event.chat.id, event.draft_id):
        raise SkipHandler


_PRESENT = {ChatMemberStatus.MEMBER, ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.RESTRICTED}
_ABSENT = {ChatMemberStatus.LEFT, ChatMemberStatus.KICKED}


def setup() -> Router:
    """Group chats only (hung under the groups router, before the plain AI chat's handlers)."""
    router = Router(name="rooms")
    router.my_chat_member.register(
        bot_added,
        F.chat.type.in_({ChatType.GROUP, ChatType.SUPERGROUP}),
        F.old_chat_member.status.in_(_ABSENT),
        F.new_chat_member.status.in_(_PRESENT),
    )
    router.message.register(room_command, Command("room"))
    router.message.register(role_command, Command("role"))
    router.message.register(private_command, Command("private"))
    router.message.register(new_command, Command("new"))
    router.message.register(ask_command, Command("ask"))
    router.message.register(room_text, F.text, ~F.text.startswith("/"))
    router.callback_query.register(panel_pressed, RoomPanelCD.filter())
    router.callback_query.register(answer_pressed, RoomAnswerCD.filter())
    return router


def setup_anywhere() -> Router:
    """Stop on a private room answer's draft (before the AI chat's own handler)."""
    router = Router(name="rooms-controls")
    router.stopped_message_generation.register(draft_stopped)
    return router
