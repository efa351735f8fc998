"""AI chat: text in a private chat, or in a group when the bot is mentioned or replied to
(answered in the same topic); stop in flight; drop an exchange from the context; /new."""

from __future__ import annotations

import logging
import re

from aiogram import Bot, F, Router
from aiogram.enums import ChatType, MessageEntityType
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.types import CallbackQuery, Message, MessageEntity, MessageGenerationStopped
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import User
from bot.db.transactions import finish_reading
from bot.entities import entity_text, remove_entities
from bot.i18n import I18n
from keyboards.chat import (
    ChatAction,
    ChatCD,
    alternatives_keyboard,
    reply_keyboard,
    stop_keyboard,
)
from keyboards.payments import catalogue_keyboard
from services.ai.chat import AIService, ChatRequest, Outcome, ReplyResult, ReplyUI
from services.ai.telegram import BotSender
from services.payments import Payments

log = logging.getLogger(__name__)


def model_indexes(ai: AIService) -> dict[str, int]:
    return {m.id: i for i, m in enumerate(ai.catalogue)}


def _ui(i18n: I18n) -> ReplyUI:
    return ReplyUI(
        reply_markup=lambda exchange: reply_keyboard(i18n, exchange),
        stop_markup=lambda draft_id: stop_keyboard(i18n, draft_id),
        stopped_suffix="\n\n" + i18n("chat-stopped-suffix"),
        failed_suffix="\n\n" + i18n("chat-failed-suffix"),
    )


def _thread(message: Message) -> int | None:
    return message.message_thread_id if message.is_topic_message else None


async def _answer(
    message: Message,
    request: ChatRequest,
    session: AsyncSession,
    i18n: I18n,
    ai: AIService,
    bot: Bot,
    payments: Payments,
) -> None:
    # The reply runs for seconds and meters credits in its own short transactions: end this
    # update's (reading) transaction first, so that it holds no lock meanwhile.
    await finish_reading(session)
    result = await ai.reply(request, BotSender(bot), _ui(i18n))
    await _report(message, request, result, i18n, ai, payments)


async def _report(
    message: Message,
    request: ChatRequest,
    result: ReplyResult,
    i18n: I18n,
    ai: AIService,
    payments: Payments,
) -> None:
    """Say what went wrong, if anything, in the user's language and in the same topic."""
    if result.outcome in (Outcome.OK, Outcome.STOPPED):
        return
    if result.outcome is Outcome.NO_CREDITS:
        if payments.settings.enabled and payments.catalogue.items():
            await message.reply(
                i18n("chat-no-credits", needed=result.needed, balance=result.balance),
                reply_markup=catalogue_keyboard(i18n, payments.catalogue),
            )
        else:
            await message.reply(
                i18n("chat-no-credits-nopay", needed=result.needed, balance=result.balance)
            )
        return
    if result.outcome is Outcome.NO_MODEL:
        await message.reply(i18n("chat-no-model"))
        return
    if result.outcome is Outcome.EMPTY:
        await message.reply(i18n("chat-empty"))
        return
    kind = (result.error.value if result.error else "unavailable").replace("_", "-")
    text = i18n(f"chat-failed-{kind}", model=result.model.name if result.model else "AI")
    markup = alternatives_keyboard(result.alternatives, model_indexes(ai))
    if markup is not None:
        text += "\n" + i18n("chat-failed-try-other")
    await message.reply(text, reply_markup=markup)


async def chat_private(
    message: Message,
    session: AsyncSession,
    user: User,
    i18n: I18n,
    ai: AIService,
    bot: Bot,
    payments: Payments,
) -> None:
    assert message.text is not None
    request = ChatRequest(
        user_id=user.id,
        chat_id=message.chat.id,
        text=message.text,
        private=True,
        thread_id=_thread(message),
        message_id=message.message_id,
    )
    await _answer(message, request, session, i18n, ai, bot, payments)


async def _addressed_text(message: Message, bot: Bot) -> str | None:
    """The question, when the message mentions the bot or replies to it; else None."""
    me = await bot.me()
    text = message.text or ""
    replied = message.reply_to_message
    # In a forum topic every message "replies" to the topic's first message (often the bot's
    # own "topic created"): that is not talking to the bot.
    if replied is not None and (
        replied.forum_topic_created is not None
        or (message.is_topic_message and replied.message_id == message.message_thread_id)
    ):
        replied = None
    to_bot = replied is not None and replied.from_user is not None and replied.from_user.id == me.id
    username = (me.username or "").lower()

    def to_me(entity: MessageEntity, covered: str) -> bool:
        if entity.type == MessageEntityType.MENTION:
            return bool(username) and covered.lower() == f"@{username}"
        return (
            entity.type == MessageEntityType.TEXT_MENTION
            and entity.user is not None
            and entity.user.id == me.id
        )

    entities = message.entities or []
    mentioned = any(to_me(entity, entity_text(text, entity)) for entity in entities)
    # An @mention is taken out of the question; a text mention (a name without @) stays: it is
    # the bot's name in a sentence.
    text, _ = remove_entities(
        text,
        entities,
        lambda entity, covered: entity.type == MessageEntityType.MENTION and to_me(entity, covered),
    )
    if not mentioned and me.username:
        # Telegram marks @mentions as entities; accept the plain text form too
        pattern = re.compile(rf"(?<!\w)@{re.escape(me.username)}(?!\w)", re.IGNORECASE)
        if pattern.search(text):
            mentioned = True
            text = pattern.sub(" ", text)
    if not (mentioned or to_bot):
        return None
    return " ".join(text.split())


async def _answer_in_group(
    message: Message,
    text: str,
    session: AsyncSession,
    user: User,
    i18n: I18n,
    ai: AIService,
    bot: Bot,
    payments: Payments,
) -> None:
    """Answer ``text`` as a reply to ``message`` in its topic; an empty question gets a hint."""
    if not text:
        await message.reply(i18n("chat-group-empty"))
        return
    request = ChatRequest(
        user_id=user.id,
        chat_id=message.chat.id,
        text=text,
        private=False,
        thread_id=_thread(message),
        reply_to=message.message_id,
        message_id=message.message_id,
    )
    await _answer(message, request, session, i18n, ai, bot, payments)


async def chat_group(
    message: Message,
    session: AsyncSession,
    user: User,
    i18n: I18n,
    ai: AIService,
    bot: Bot,
    payments: Payments,
) -> None:
    text = await _addressed_text(message, bot)
    if text is None:
        return
    await _answer_in_group(message, text, session, user, i18n, ai, bot, payments)


async def ask_command(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    user: User,
    i18n: I18n,
    ai: AIService,
    bot: Bot,
    payments: Payments,
) -> None:
    """``/ask question``: works in groups even with privacy mode on (commands always arrive)."""
    text = " ".join((command.args or "").split())
    await _answer_in_group(message, text, session, user, i18n, ai, bot, payments)


async def new_conversation(
    message: Message, session: AsyncSession, user: User, i18n: I18n, ai: AIService
) -> None:
    scope = ai.scope(
        message.chat.id, _thread(message), private=message.chat.type == ChatType.PRIVATE
    )
    await ai.contexts.clear(session, user.id, scope)
    await message.answer(i18n("chat-new-done"))


async def generation_stopped(event: MessageGenerationStopped, ai: AIService) -> None:
    """The user pressed stop on a streamed draft (``stopped_message_generation``)."""
    ai.stop(event.chat.id, event.draft_id)


async def stop_pressed(
    query: CallbackQuery, callback_data: ChatCD, user: User, i18n: I18n, ai: AIService
) -> None:
    chat = query.message.chat if query.message is not None else None
    if chat is None or not callback_data.ref.isdigit():
        await query.answer(i18n("chat-stop-gone"))
        return
    stopped = ai.stop(chat.id, int(callback_data.ref), user_id=user.id)
    await query.answer(None if stopped else i18n("chat-stop-gone"))


async def exclude_pressed(
    query: CallbackQuery,
    callback_data: ChatCD,
    session: AsyncSession,
    user: User,
    i18n: I18n,
    ai: AIService,
) -> None:
    # the exchange must be this user's own: checked in the query, never trusted from the button
    if await ai.contexts.exclude(session, user.id, callback_data.ref):
        # Committed by then: the next question must not see the exchange, even while the edit
        # below waits its turn in the send budget.
        await query.answer(i18n("chat-excluded"))
        if isinstance(query.message, Message):
            await query.message.edit_reply_markup(reply_markup=None)
    else:
        await query.answer(i18n("chat-exclude-gone"), show_alert=True)


def setup() -> Router:
    """Private chat: /new, text to the AI (only outside other features' dialogues)."""
    router = Router(name="chat")
    router.message.register(new_conversation, Command("new"))
    router.message.register(chat_private, StateFilter(None), F.text, ~F.text.startswith("/"))
    return router


def setup_group() -> Router:
    router = Router(name="chat-group")
    router.message.register(new_conversation, Command("new"))
    router.message.register(ask_command, Command("ask"))
    router.message.register(chat_group, F.text, ~F.text.startswith("/"))
    return router


def setup_anywhere() -> Router:
    """Stop (draft button or inline button) and exclude, wherever the reply is."""
    router = Router(name="chat-controls")
    router.stopped_message_generation.register(generation_stopped)
    router.callback_query.register(stop_pressed, ChatCD.filter(F.action == ChatAction.STOP))
    router.callback_query.register(exclude_pressed, ChatCD.filter(F.action == ChatAction.EXCLUDE))
    return router
