"""The staff desk (a forum supergroup): what staff write in a session's topic goes to the user as
the persona; the buttons under each user message claim, release, close, draft and send
templates. Only staff act here; everyone else is told so and nothing is relayed."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Filter
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import User
from bot.i18n import I18n, Translator
from bot.settings import Settings
from handlers.concierge.ui import DeskTexts
from keyboards.concierge import DeskAction, DeskCD
from services.admin.access import is_admin
from services.concierge import ConciergeService, Outcome
from services.concierge.staff import is_staff

# Outcomes of a staff message that staff must hear about in the topic.
_TOLD = frozenset({Outcome.CLOSED, Outcome.UNSUPPORTED, Outcome.BLOCKED, Outcome.FAILED})


class InDesk(Filter):
    """A person's message in a topic of the linked desk."""

    async def __call__(
        self,
        message: Message,
        concierge: ConciergeService,
        sessionmaker: async_sessionmaker[AsyncSession],
    ) -> bool:
        if message.message_thread_id is None or not message.is_topic_message:
            return False
        if message.from_user is None or message.from_user.is_bot:
            return False
        async with sessionmaker() as session:
            return await concierge.is_desk(session, message.chat.id)


async def staff_message(
    message: Message,
    session: AsyncSession,
    user: User,
    settings: Settings,
    translator: Translator,
    concierge: ConciergeService,
    bot: Bot,
) -> None:
    ui = DeskTexts(translator, settings)
    assert message.message_thread_id is not None
    if not is_staff(settings, user):
        await message.reply(ui.text("concierge-desk-not-staff"))
        return
    result = await concierge.staff_message(session, bot, message.message_thread_id, message)
    if result.outcome in _TOLD:
        await message.reply(ui.text(f"concierge-desk-{result.outcome.value}"))


async def on_button(
    query: CallbackQuery,
    callback_data: DeskCD,
    session: AsyncSession,
    user: User,
    i18n: I18n,
    settings: Settings,
    translator: Translator,
    concierge: ConciergeService,
    bot: Bot,
) -> None:
    ui = DeskTexts(translator, settings)
    if not is_staff(settings, user):
        await query.answer(i18n("concierge-desk-not-staff"), show_alert=True)
        return
    action, sid = callback_data.action, callback_data.session
    operator = is_admin(settings, user)
    if action is DeskAction.DRAFT:
        # The model takes longer than Telegram waits for the answer to the press.
        await query.answer(i18n("concierge-drafting"))
        result = await concierge.draft(session, bot, ui, sid)
        if result.outcome is not Outcome.DRAFTED and isinstance(query.message, Message):
            await query.message.reply(ui.text(f"concierge-desk-{result.outcome.value}"))
        return
    if action is DeskAction.CLAIM:
        result = await concierge.claim(session, bot, user.id, sid, operator=operator)
    elif action is DeskAction.RELEASE:
        result = await concierge.release(session, bot, user.id, sid, operator=operator)
    elif action is DeskAction.CLOSE:
        result = await concierge.close(session, bot, ui, user.id, sid)
    elif action is DeskAction.TEMPLATE:
        result = await concierge.send_template(session, bot, ui, sid, callback_data.ref)
    else:
        shown = query.message.message_id if query.message is not None else None
        result = await concierge.send_draft(session, bot, sid, callback_data.ref, shown)
    await query.answer(i18n(f"concierge-press-{result.outcome.value}"))


def setup() -> Router:
    router = Router(name="concierge-desk")
    router.message.register(staff_message, InDesk(), F.text | F.photo | F.sticker)
    router.callback_query.register(on_button, DeskCD.filter())
    return router
