"""The user's side: /personas, the deep link ``start=p_<id>``, the name, messages, /end."""

from __future__ import annotations

import re

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, CommandStart, Filter, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import User
from bot.i18n import I18n, Translator
from bot.settings import Settings
from bot.state import KeyValueState
from handlers.concierge.ui import DeskTexts
from keyboards import concierge as kb
from keyboards.concierge import ConciergeUserCD, UserAction
from keyboards.payments import catalogue_keyboard
from services.concierge import ConciergeService, Outcome, Result
from services.concierge import personas as persona_store
from services.payments import Payments

DEEP_LINK = re.compile(r"^p_(\d{1,18})$")
QUEUED_NOTICE_SECONDS = 60.0


class NameStates(StatesGroup):
    name = State()


class InSession(Filter):
    """The sender has an open concierge session (a Redis look-up, no database)."""

    async def __call__(self, message: Message, concierge: ConciergeService) -> bool:
        return message.from_user is not None and await concierge.has_session(message.from_user.id)


async def list_personas(message: Message, session: AsyncSession, i18n: I18n, bot: Bot) -> None:
    found = await persona_store.listing(session, active_only=True)
    if not found:
        await message.answer(i18n("concierge-no-personas"))
        return
    await message.answer(i18n("concierge-personas-intro"))
    for persona in found:
        caption = i18n(
            "concierge-persona-card",
            name=persona.name,
            bio=persona.bio,
            attributes=persona.attributes or "—",
            price=persona.price,
        )
        markup = kb.persona_card(i18n, persona.id)
        if persona.avatar_file_id:
            await bot.send_photo(
                message.chat.id, persona.avatar_file_id, caption=caption, reply_markup=markup
            )
        else:
            await message.answer(caption, reply_markup=markup)


async def _open(
    chat_id: int,
    persona_id: int,
    session: AsyncSession,
    user: User,
    i18n: I18n,
    bot: Bot,
    state: FSMContext,
    concierge: ConciergeService,
    ui: DeskTexts,
) -> None:
    result = await concierge.start(session, bot, ui, user.id, persona_id)
    if result.outcome is not Outcome.OPENED or result.persona is None:
        await bot.send_message(chat_id, i18n(f"concierge-start-{result.outcome.value}"))
        return
    await state.set_state(NameStates.name)
    await bot.send_message(
        chat_id,
        i18n("concierge-opened", persona=result.persona.name, price=result.persona.price),
        reply_markup=kb.skip_name(i18n),
    )


async def deep_link(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    user: User,
    i18n: I18n,
    bot: Bot,
    state: FSMContext,
    concierge: ConciergeService,
    translator: Translator,
    settings: Settings,
) -> None:
    found = DEEP_LINK.match(command.args or "")
    if found is None:
        await message.answer(i18n("concierge-start-no-persona"))
        return
    await _open(
        message.chat.id,
        int(found.group(1)),
        session,
        user,
        i18n,
        bot,
        state,
        concierge,
        DeskTexts(translator, settings),
    )


async def on_button(
    query: CallbackQuery,
    callback_data: ConciergeUserCD,
    session: AsyncSession,
    user: User,
    i18n: I18n,
    bot: Bot,
    state: FSMContext,
    concierge: ConciergeService,
    translator: Translator,
    settings: Settings,
) -> None:
    await query.answer()
    if callback_data.action is UserAction.SKIP_NAME:
        await state.set_state(None)
        await bot.send_message(user.id, i18n("concierge-name-skipped"))
        return
    await _open(
        user.id,
        callback_data.ref,
        session,
        user,
        i18n,
        bot,
        state,
        concierge,
        DeskTexts(translator, settings),
    )


async def give_name(
    message: Message,
    session: AsyncSession,
    user: User,
    i18n: I18n,
    state: FSMContext,
    concierge: ConciergeService,
) -> None:
    await state.set_state(None)
    name = await concierge.set_name(session, user.id, message.text or "")
    if name is None:
        await message.answer(i18n("concierge-end-none"))
        return
    await message.answer(i18n("concierge-name-saved", name=name))


async def end(
    message: Message,
    session: AsyncSession,
    user: User,
    i18n: I18n,
    bot: Bot,
    state: FSMContext,
    concierge: ConciergeService,
    translator: Translator,
    settings: Settings,
) -> None:
    await state.set_state(None)
    result = await concierge.end(session, bot, DeskTexts(translator, settings), user.id)
    if result.outcome is Outcome.NO_SESSION:
        await message.answer(i18n("concierge-end-none"))
        return
    name = result.persona.name if result.persona is not None else ""
    await message.answer(i18n("concierge-ended", persona=name))


async def session_message(
    message: Message,
    session: AsyncSession,
    user: User,
    i18n: I18n,
    bot: Bot,
    kv: KeyValueState,
    concierge: ConciergeService,
    payments: Payments,
    translator: Translator,
    settings: Settings,
) -> None:
    async def queued() -> None:
        # Visible state while the desk's minute is full: said once a minute, not per message.
        if await kv.set_once(f"cc:q:{user.id}", QUEUED_NOTICE_SECONDS):
            await message.answer(i18n("concierge-queued"))

    result = await concierge.user_message(
        session, bot, DeskTexts(translator, settings), user.id, message, queued
    )
    await _render(message, i18n, payments, result)


async def _render(message: Message, i18n: I18n, payments: Payments, result: Result) -> None:
    if result.outcome in (Outcome.DELIVERED, Outcome.DUPLICATE):
        return
    if result.outcome is Outcome.LOW_BALANCE:
        await message.answer(
            i18n("concierge-low-balance", balance=result.balance, price=result.price),
            reply_markup=catalogue_keyboard(i18n, payments.catalogue),
        )
        return
    if result.outcome is Outcome.FAILED:
        await message.answer(i18n("concierge-not-delivered", credits=result.refunded))
        return
    await message.answer(i18n(f"concierge-msg-{result.outcome.value}"))


def setup_start() -> Router:
    """Before /start itself: the deep link opens a session."""
    router = Router(name="concierge-start")
    router.message.register(deep_link, CommandStart(deep_link=True, magic=F.args.startswith("p_")))
    return router


def setup() -> Router:
    router = Router(name="concierge-user")
    router.message.register(list_personas, Command("personas"))
    router.message.register(end, Command("end"))
    router.message.register(
        give_name, StateFilter(NameStates.name), F.text, ~F.text.startswith("/")
    )
    router.message.register(
        session_message,
        InSession(),
        ~F.text.startswith("/"),
    )
    router.callback_query.register(on_button, ConciergeUserCD.filter())
    return router
