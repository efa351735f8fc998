"""Linking a group: /logserver, the group picker (`chat_shared`), binding after a check."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.types import Message, ReplyKeyboardRemove
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import User
from bot.db.models.logserver import LogServerState
from bot.i18n import I18n
from bot.settings import Settings
from handlers.onboarding.finish import finish_setup
from handlers.onboarding.key import key_prompt
from handlers.onboarding.render import render_report, status_text, with_warnings
from keyboards.logserver import (
    REQUEST_GROUP,
    pick_group_keyboard,
    startgroup_keyboard,
    status_keyboard,
)
from services import users
from services.logserver import AlreadyLinked, LogServerService, actions
from services.logserver.onboarding import check_group, startgroup_admin_param
from services.logserver.types import CheckReport


async def show(
    message: Message,
    bot: Bot,
    user: User,
    session: AsyncSession,
    i18n: I18n,
    logserver: LogServerService,
    settings: Settings,
) -> None:
    if user.locale is None:
        # Notices about the log server come later, outside any update: keep the language the
        # user set it up in.
        await users.set_locale(session, user, i18n.locale)
    server = await logserver.get(session, user.id)
    if server is not None and server.state is LogServerState.AWAITING_KEY:
        text, markup = key_prompt(i18n, settings)
        await message.answer(text, reply_markup=markup)
        return
    text_ = await status_text(i18n, session, logserver, user.id)
    if text_ is not None:
        await message.answer(text_, reply_markup=status_keyboard(i18n))
        return
    await message.answer(i18n("logserver-intro"), reply_markup=pick_group_keyboard(i18n))
    token = await logserver.issue_token(user.id)
    me = await bot.me()
    url = f"https://t.me/{me.username}?startgroup={token}&admin={startgroup_admin_param()}"
    await message.answer(i18n("logserver-link-intro"), reply_markup=startgroup_keyboard(i18n, url))


async def group_shared(
    message: Message,
    bot: Bot,
    user: User,
    session: AsyncSession,
    i18n: I18n,
    logserver: LogServerService,
    settings: Settings,
) -> None:
    assert message.chat_shared is not None
    shared = message.chat_shared
    report = await check_group(bot, shared.chat_id, user.id)
    if not report.ok:
        await message.answer(render_report(i18n, report), reply_markup=pick_group_keyboard(i18n))
        return
    await bind_and_continue(bot, session, logserver, i18n, user.id, report, settings=settings)


async def bind_and_continue(
    bot: Bot,
    session: AsyncSession,
    logserver: LogServerService,
    i18n: I18n,
    user_id: int,
    report: CheckReport,
    *,
    settings: Settings,
) -> None:
    """After a passing check: link the group, show the warnings, ask for the key (or finish)."""
    try:
        server = await actions.link_group(session, logserver, user_id, report.chat_id, report.title)
    except AlreadyLinked:
        await bot.send_message(user_id, i18n("logserver-check-already-linked"))
        return
    text = with_warnings(i18n, i18n("logserver-bound", title=report.title), report)
    await bot.send_message(user_id, text, reply_markup=ReplyKeyboardRemove())
    if server.public_key is None:
        prompt, markup = key_prompt(i18n, settings)
        await bot.send_message(user_id, prompt, reply_markup=markup)
        return
    if (await finish_setup(bot, session, logserver, server, i18n)).ok:
        await bot.send_message(user_id, i18n("logserver-setup-done", title=report.title))


def setup() -> Router:
    router = Router(name="onboarding-link")
    router.message.register(show, Command("logserver"))
    router.message.register(group_shared, F.chat_shared.request_id == REQUEST_GROUP)
    return router
