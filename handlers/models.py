"""AI settings in the private chat: /model, /persona, /balance, /usage, /apikey."""

from __future__ import annotations

import contextlib
import logging

from aiogram import Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import User, UserRole
from bot.i18n import I18n
from bot.settings import Settings
from handlers.chat import model_indexes
from handlers.secret_message import delete_secret
from keyboards.chat import ModelAction, ModelCD, PersonaCD, models_keyboard, personas_keyboard
from services.ai import personas
from services.ai.catalogue import ProviderName
from services.ai.chat import AIService
from services.ai.keys import guess_provider, plausible
from services.ai.providers.base import ErrorKind, ProviderError

log = logging.getLogger(__name__)

PROVIDER_NAMES = {p.value: p for p in ProviderName if p is not ProviderName.COMPAT}


def _is_admin(user: User, settings: Settings) -> bool:
    return user.role is UserRole.ADMIN or user.id in settings.admin_ids


async def _model_screen(
    session: AsyncSession, user: User, i18n: I18n, ai: AIService, settings: Settings
) -> tuple[str, InlineKeyboardMarkup]:
    current, own = await ai.preferences.current_model(session, user.id)
    models = ai.preferences.models_for(own)
    text = i18n("chat-model-prompt", current=current.name if current else "—")
    if current is not None:
        if current.provider in own:
            text += "\n" + i18n("chat-model-own-key")
        else:
            text += "\n" + i18n(
                "chat-model-price", input=current.input_price, output=current.output_price
            )
    markup = models_keyboard(
        i18n,
        models,
        model_indexes(ai),
        current.id if current else None,
        compat_name=ai.settings.compat_name,
        admin=_is_admin(user, settings),
    )
    return text, markup


async def show_models(
    message: Message,
    session: AsyncSession,
    user: User,
    i18n: I18n,
    ai: AIService,
    settings: Settings,
) -> None:
    current, _ = await ai.preferences.current_model(session, user.id)
    if current is None:
        await message.answer(i18n("chat-no-model"))
        return
    text, markup = await _model_screen(session, user, i18n, ai, settings)
    await message.answer(text, reply_markup=markup)


async def pick_model(
    query: CallbackQuery,
    callback_data: ModelCD,
    session: AsyncSession,
    user: User,
    i18n: I18n,
    ai: AIService,
    settings: Settings,
) -> None:
    models = list(ai.catalogue)
    if not 0 <= callback_data.index < len(models):
        await query.answer(i18n("chat-model-unavailable"), show_alert=True)
        return
    model = models[callback_data.index]
    if callback_data.action is ModelAction.DEFAULT:
        if not _is_admin(user, settings):  # re-checked here, never trusted from the button
            await query.answer(i18n("chat-model-unavailable"), show_alert=True)
            return
        # Committed before the user is told.
        await ai.preferences.set_default_model(session, model.id)
        await query.answer(i18n("chat-model-default-set", name=model.name))
        return
    if not await ai.preferences.set_model(session, user.id, model.id):
        await query.answer(i18n("chat-model-unavailable"), show_alert=True)
        return
    # Committed by then: the edit below may wait its turn in the send budget, and the next
    # message must already find the new model.
    await query.answer(i18n("chat-model-set", name=model.name))
    if isinstance(query.message, Message):
        text, markup = await _model_screen(session, user, i18n, ai, settings)
        with contextlib.suppress(TelegramBadRequest):  # e.g. the alternatives message: no edit
            await query.message.edit_text(text, reply_markup=markup)


async def show_personas(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    user: User,
    i18n: I18n,
    ai: AIService,
) -> None:
    custom = (command.args or "").strip()
    if custom:
        if len(custom) > personas.MAX_CUSTOM_CHARS:
            await message.answer(i18n("chat-persona-too-long", max=personas.MAX_CUSTOM_CHARS))
            return
        await ai.preferences.set_persona(session, user.id, personas.CUSTOM, custom)  # committed
        await message.answer(i18n("chat-persona-set", name=i18n(f"chat-persona-{personas.CUSTOM}")))
        return
    pref = await ai.preferences.preference(session, user.id)
    current = pref.persona or personas.DEFAULT
    ids = [p.id for p in personas.SHIPPED]
    if pref.custom_persona:
        ids.append(personas.CUSTOM)
    await message.answer(
        i18n(
            "chat-persona-prompt",
            current=i18n(f"chat-persona-{current}"),
            max=personas.MAX_CUSTOM_CHARS,
        ),
        reply_markup=personas_keyboard(i18n, ids, current),
    )


async def pick_persona(
    query: CallbackQuery,
    callback_data: PersonaCD,
    session: AsyncSession,
    user: User,
    i18n: I18n,
    ai: AIService,
) -> None:
    persona_id = callback_data.persona
    if not await ai.preferences.set_persona(session, user.id, persona_id):  # committed when True
        await query.answer(i18n("chat-persona-unknown"), show_alert=True)
        return
    name = i18n(f"chat-persona-{persona_id}")
    await query.answer(i18n("chat-persona-set", name=name))
    if isinstance(query.message, Message):
        with contextlib.suppress(TelegramBadRequest):
            await query.message.edit_text(i18n("chat-persona-set", name=name))


async def show_balance(
    message: Message, session: AsyncSession, user: User, i18n: I18n, ai: AIService
) -> None:
    report = await ai.meter.report(session, user.id)
    await message.answer(
        i18n(
            "chat-balance",
            balance=report.balance,
            free=report.allowance_left,
            daily=ai.settings.free_daily_credits,
        )
    )


async def show_usage(
    message: Message, session: AsyncSession, user: User, i18n: I18n, ai: AIService
) -> None:
    report = await ai.meter.report(session, user.id)
    lines = [
        i18n(
            "chat-usage",
            today_replies=report.today.replies,
            today_tokens=report.today.input_tokens + report.today.output_tokens,
            today_cost=report.today.cost,
            month_replies=report.month.replies,
            month_tokens=report.month.input_tokens + report.month.output_tokens,
            month_cost=report.month.cost,
        )
    ]
    for line in report.per_model:
        model = ai.catalogue.get(line.model)
        lines.append(
            i18n(
                "chat-usage-model",
                model=model.name if model else line.model,
                replies=line.replies,
                tokens=line.input_tokens + line.output_tokens,
                cost=line.cost,
            )
        )
    if not report.per_model:
        lines.append(i18n("chat-usage-none"))
    await message.answer("\n".join(lines))


async def apikey(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    user: User,
    i18n: I18n,
    ai: AIService,
) -> None:
    words = (command.args or "").split()
    if not words:
        own = sorted(p.value for p in await ai.keys.providers(session, user.id))
        await message.answer(
            i18n("chat-apikey-help", providers=", ".join(own) or i18n("chat-apikey-none"))
        )
        return
    if words[0].lower() == "remove":
        provider = PROVIDER_NAMES.get(words[1].lower()) if len(words) > 1 else None
        count = await ai.keys.remove(session, user.id, provider)  # committed
        await message.answer(i18n("chat-apikey-removed", count=count))
        return
    # Anything else carries a key: it must not stay in the chat, whatever happens next.
    deleted = await delete_secret(message)
    # Every answer below says whether the message with the key is gone.
    note = "\n" + i18n("chat-apikey-deleted" if deleted else "chat-apikey-not-deleted")
    if len(words) >= 2 and words[0].lower() in PROVIDER_NAMES:
        named: ProviderName | None = PROVIDER_NAMES[words[0].lower()]
        key = words[1]
    else:
        key = words[0]
        named = guess_provider(key)
    if named is None:
        await message.answer(i18n("chat-apikey-unknown") + note)
        return
    if not plausible(key):
        await message.answer(i18n("chat-apikey-bad-shape") + note)
        return
    label = named.value
    try:
        await ai.preferences.add_key(session, user.id, named, key)
    except ProviderError as exc:
        if exc.kind in (ErrorKind.AUTH, ErrorKind.BAD_REQUEST, ErrorKind.QUOTA):
            await message.answer(i18n("chat-apikey-invalid", provider=label) + note)
        else:
            await message.answer(i18n("chat-apikey-check-failed", provider=label) + note)
        return
    await message.answer(i18n("chat-apikey-saved", provider=label) + note)


async def apikey_in_group(message: Message, i18n: I18n) -> None:
    """A key sent in a group is deleted at once and never looked at. Where the bot may not
    delete it (a plain member), the group is told it is still there and the key must be revoked.
    """
    if message.text and len(message.text.split()) > 1:
        deleted = await delete_secret(message)
        await message.answer(
            i18n("chat-apikey-group" if deleted else "chat-apikey-group-not-deleted")
        )


def setup() -> Router:
    router = Router(name="ai-settings")
    router.message.register(show_models, Command("model"))
    router.message.register(show_personas, Command("persona"))
    router.message.register(show_balance, Command("balance"))
    router.message.register(show_usage, Command("usage"))
    router.message.register(apikey, Command("apikey"))
    router.callback_query.register(pick_model, ModelCD.filter())
    router.callback_query.register(pick_persona, PersonaCD.filter())
    return router


def setup_group() -> Router:
    router = Router(name="ai-settings-group")
    router.message.register(apikey_in_group, Command("apikey"))
    return router
