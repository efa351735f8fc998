"""Staff and operators in private: /concierge (personas, templates, the unanswered queue), the
desk link (operators), and the Staff role from the admin panel's user card (operators).

Every press and every prompt answer re-checks the role on the server; to anyone else /concierge
is an unknown command, as /admin is.
"""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message, ReplyKeyboardRemove
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import User
from bot.i18n import I18n
from bot.settings import Settings
from handlers import fallback
from handlers.onboarding.render import render_report
from keyboards import concierge as kb
from keyboards.concierge import REQUEST_DESK, StaffAction, StaffCD
from services.admin.access import is_admin
from services.concierge import ConciergeService
from services.concierge import personas as persona_store
from services.concierge import templates as template_store
from services.concierge.personas import PersonaInvalid, PersonaSpec
from services.concierge.service import waited_minutes
from services.concierge.staff import RoleChange, is_staff, toggle_staff
from services.concierge.templates import TemplateInvalid


class StaffStates(StatesGroup):
    persona_name = State()
    persona_bio = State()
    persona_attributes = State()
    persona_price = State()
    persona_avatar = State()
    template_title = State()
    template_body = State()


PROMPTS = StateFilter(*StaffStates.__all_states__)


async def open_panel(
    message: Message, user: User, i18n: I18n, settings: Settings, state: FSMContext
) -> None:
    if not is_staff(settings, user):
        await fallback.unknown_command(message, i18n)
        return
    await state.clear()
    operator = is_admin(settings, user)
    await message.answer(
        i18n("concierge-staff-menu"), reply_markup=kb.staff_menu(i18n, operator=operator)
    )


async def on_button(
    query: CallbackQuery,
    callback_data: StaffCD,
    session: AsyncSession,
    user: User,
    i18n: I18n,
    settings: Settings,
    state: FSMContext,
    concierge: ConciergeService,
) -> None:
    action = callback_data.action
    operator = is_admin(settings, user)
    if action is StaffAction.ROLE:
        await _toggle_role(query, session, user, i18n, settings, callback_data.ref)
        return
    if not is_staff(settings, user) or (action is StaffAction.LINK_DESK and not operator):
        await fallback.expired_button(query, i18n)
        return
    await query.answer()
    chat = user.id
    bot = query.bot
    assert bot is not None
    if action is StaffAction.MENU:
        await state.clear()
        await bot.send_message(
            chat, i18n("concierge-staff-menu"), reply_markup=kb.staff_menu(i18n, operator=operator)
        )
    elif action is StaffAction.PERSONAS:
        found = await persona_store.listing(session, active_only=False)
        await bot.send_message(
            chat,
            i18n("concierge-staff-personas", count=len(found)),
            reply_markup=kb.persona_list(i18n, found),
        )
    elif action is StaffAction.TOGGLE_PERSONA:
        persona = await persona_store.toggle(session, callback_data.ref)
        if persona is None:
            await bot.send_message(chat, i18n("concierge-start-no-persona"))
            return
        found = await persona_store.listing(session, active_only=False)
        key = "concierge-persona-on" if persona.active else "concierge-persona-off"
        await bot.send_message(
            chat, i18n(key, name=persona.name), reply_markup=kb.persona_list(i18n, found)
        )
    elif action is StaffAction.NEW_PERSONA:
        await state.clear()
        await state.set_state(StaffStates.persona_name)
        await bot.send_message(chat, i18n("concierge-ask-persona-name"))
    elif action is StaffAction.SKIP_AVATAR:
        if await state.get_state() != StaffStates.persona_avatar.state:
            await bot.send_message(chat, i18n("error-button-expired"))
            return
        await _save_persona(bot, chat, session, i18n, state, None)
    elif action is StaffAction.TEMPLATES:
        found_t = await template_store.listing(session)
        await bot.send_message(
            chat,
            i18n("concierge-staff-templates", count=len(found_t)),
            reply_markup=kb.template_list(i18n, found_t),
        )
    elif action is StaffAction.NEW_TEMPLATE:
        await state.clear()
        await state.set_state(StaffStates.template_title)
        await bot.send_message(chat, i18n("concierge-ask-template-title"))
    elif action is StaffAction.DELETE_TEMPLATE:
        deleted = await template_store.delete(session, callback_data.ref)
        found_t = await template_store.listing(session)
        await bot.send_message(
            chat,
            i18n("concierge-template-deleted" if deleted else "concierge-template-gone"),
            reply_markup=kb.template_list(i18n, found_t),
        )
    elif action is StaffAction.QUEUE:
        await _show_queue(bot, chat, session, i18n, concierge)
    elif action is StaffAction.LINK_DESK:
        await bot.send_message(chat, i18n("concierge-desk-intro"), reply_markup=kb.pick_desk(i18n))


async def _show_queue(
    bot: Bot, chat: int, session: AsyncSession, i18n: I18n, concierge: ConciergeService
) -> None:
    waiting = await concierge.queue(session)
    if not waiting:
        await bot.send_message(chat, i18n("concierge-queue-empty"))
        return
    lines = [
        i18n(
            "concierge-queue-line",
            persona=item.persona,
            pseudonym=item.pseudonym,
            minutes=waited_minutes(item.since),
        )
        for item in waiting
    ]
    links = [(f"{item.persona} · {item.pseudonym}", item.link) for item in waiting if item.link]
    await bot.send_message(
        chat,
        i18n("concierge-queue", count=len(waiting)) + "\n" + "\n".join(lines),
        reply_markup=kb.queue_links(i18n, links),
    )


async def _toggle_role(
    query: CallbackQuery,
    session: AsyncSession,
    user: User,
    i18n: I18n,
    settings: Settings,
    target_id: int,
) -> None:
    change = await toggle_staff(session, settings, settings.admin, user, target_id)
    if change is RoleChange.DENIED:
        await fallback.expired_button(query, i18n)
    elif change is RoleChange.NOT_FOUND:
        await query.answer(i18n("admin-lookup-not-found"), show_alert=True)
    elif change is RoleChange.UNCHANGED:
        await query.answer(i18n("concierge-role-unchanged"), show_alert=True)
    else:
        key = "concierge-role-granted" if change is RoleChange.GRANTED else "concierge-role-revoked"
        await query.answer(i18n(key, id=str(target_id)), show_alert=True)


async def on_prompt(
    message: Message,
    session: AsyncSession,
    user: User,
    i18n: I18n,
    settings: Settings,
    state: FSMContext,
    bot: Bot,
) -> None:
    if not is_staff(settings, user):
        await state.clear()
        await fallback.plain_text(message, i18n)
        return
    current = await state.get_state()
    text = message.text or ""
    chat = message.chat.id
    limits = settings.concierge
    steps = {
        StaffStates.persona_name.state: (
            "name",
            StaffStates.persona_bio,
            "concierge-ask-persona-bio",
        ),
        StaffStates.persona_bio.state: (
            "bio",
            StaffStates.persona_attributes,
            "concierge-ask-persona-attributes",
        ),
        StaffStates.persona_attributes.state: (
            "attributes",
            StaffStates.persona_price,
            "concierge-ask-persona-price",
        ),
    }
    if current in steps:
        field, following, prompt = steps[current]
        value = "" if field == "attributes" and text.strip() == "-" else text
        limit = {"name": persona_store.MAX_NAME, "bio": persona_store.MAX_BIO}.get(
            field, persona_store.MAX_ATTRIBUTES
        )
        try:
            value = persona_store.clean_text(field, value, limit, required=field != "attributes")
        except PersonaInvalid:
            await message.answer(i18n(f"concierge-invalid-{field}", limit=limit))
            return
        await state.update_data({field: value})
        await state.set_state(following)
        await message.answer(i18n(prompt, max=limits.max_price))
    elif current == StaffStates.persona_price.state:
        try:
            price = persona_store.parse_price(text, limits.max_price)
        except PersonaInvalid:
            await message.answer(i18n("concierge-invalid-price", max=limits.max_price))
            return
        await state.update_data(price=price)
        await state.set_state(StaffStates.persona_avatar)
        await message.answer(
            i18n("concierge-ask-persona-avatar"), reply_markup=kb.skip_avatar(i18n)
        )
    elif current == StaffStates.persona_avatar.state:
        if not message.photo:
            await message.answer(
                i18n("concierge-ask-persona-avatar"), reply_markup=kb.skip_avatar(i18n)
            )
            return
        await _save_persona(bot, chat, session, i18n, state, message.photo[-1].file_id)
    elif current == StaffStates.template_title.state:
        await state.update_data(title=text)
        await state.set_state(StaffStates.template_body)
        await message.answer(i18n("concierge-ask-template-body"))
    elif current == StaffStates.template_body.state:
        data = await state.get_data()
        try:
            template = await template_store.create(session, str(data.get("title", "")), text)
        except TemplateInvalid:
            await state.set_state(StaffStates.template_title)
            await message.answer(i18n("concierge-invalid-template", title=template_store.MAX_TITLE))
            return
        await state.clear()
        await message.answer(i18n("concierge-template-saved", title=template.title))


async def _save_persona(
    bot: Bot,
    chat: int,
    session: AsyncSession,
    i18n: I18n,
    state: FSMContext,
    avatar: str | None,
) -> None:
    data = await state.get_data()
    spec = PersonaSpec(
        name=str(data.get("name", "")),
        bio=str(data.get("bio", "")),
        attributes=str(data.get("attributes", "")),
        price=int(data.get("price", 0)),
        avatar_file_id=avatar,
    )
    try:
        persona = await persona_store.create(session, spec)
    except PersonaInvalid:
        await state.clear()
        await bot.send_message(chat, i18n("concierge-persona-incomplete"))
        return
    await state.clear()
    me = await bot.me()
    link = f"https://t.me/{me.username}?start=p_{persona.id}"
    await bot.send_message(
        chat, i18n("concierge-persona-saved", name=persona.name, price=persona.price, link=link)
    )


async def desk_shared(
    message: Message,
    session: AsyncSession,
    user: User,
    i18n: I18n,
    settings: Settings,
    bot: Bot,
    concierge: ConciergeService,
) -> None:
    if not is_admin(settings, user):
        await fallback.plain_text(message, i18n)
        return
    assert message.chat_shared is not None
    report = await concierge.link_desk(session, bot, user.id, message.chat_shared.chat_id)
    if not report.ok:
        problems = type(report)(
            report.chat_id, report.title, report.problems, report.missing_rights
        )
        await message.answer(render_report(i18n, problems), reply_markup=kb.pick_desk(i18n))
        return
    await message.answer(
        i18n("concierge-desk-linked", title=report.title), reply_markup=ReplyKeyboardRemove()
    )


def setup() -> Router:
    router = Router(name="concierge-staff")
    router.message.register(open_panel, Command("concierge"))
    router.message.register(desk_shared, F.chat_shared.request_id == REQUEST_DESK)
    # Commands typed during a prompt go to their own handlers.
    router.message.register(on_prompt, PROMPTS, ~F.text.startswith("/"))
    router.callback_query.register(on_button, StaffCD.filter())
    return router
