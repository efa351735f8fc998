"""Onboarding against Telegram: check a group, create its topics, post and pin the panel.

What Telegram made is committed at once, before the next call: a topic's id, the panel's
message id (so a crash never makes them twice, and no call waits on an uncommitted change)."""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping

from aiogram.enums import ChatAction, ChatMemberStatus, ChatType
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramForbiddenError
from aiogram.types import ChatAdministratorRights, ChatMemberAdministrator, InlineKeyboardMarkup
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models.logserver import LogServer
from services.logserver.link import set_thread, thread_of
from services.logserver.types import (
    ON_DEMAND,
    CheckProblem,
    CheckReport,
    CheckWarning,
    RecordKind,
)
from services.ports import GroupAdmin

log = logging.getLogger(__name__)

REQUIRED_RIGHTS: tuple[str, ...] = ("can_manage_topics", "can_delete_messages")
WANTED_RIGHTS: tuple[str, ...] = (*REQUIRED_RIGHTS, "can_pin_messages")
# Every administrator holds these; they are not "more than needed".
_IMPLIED_RIGHTS = frozenset({"can_manage_chat", "is_anonymous", "can_be_edited"})
_ALL_RIGHTS = tuple(
    name
    for name in ChatAdministratorRights.model_fields
    if name.startswith("can_") and name != "can_be_edited"
)
TOPIC_ICON_COLORS: Mapping[RecordKind, int] = {
    RecordKind.CHAT: 7322096,
    RecordKind.BILLING: 16766590,
    RecordKind.AUDIT: 13338331,
    RecordKind.SYSTEM: 9367192,
    RecordKind.ROOMS: 16749490,
    RecordKind.CONCIERGE: 16478047,
}


def bot_rights() -> ChatAdministratorRights:
    """The rights the bot asks for: manage topics, delete and pin messages, nothing else."""
    granted = {name: name in WANTED_RIGHTS for name in _ALL_RIGHTS}
    return ChatAdministratorRights(is_anonymous=False, **granted)


def user_rights() -> ChatAdministratorRights:
    """The user must hold at least the rights they give the bot (Telegram's rule)."""
    return bot_rights()


def startgroup_admin_param() -> str:
    """The `admin=` value of a startgroup link: the same rights, Telegram's spelling."""
    return "+".join(name.removeprefix("can_") for name in WANTED_RIGHTS)


async def check_group(bot: GroupAdmin, chat_id: int, user_id: int) -> CheckReport:
    """Everything that must hold before a group becomes `user_id`'s log server."""
    try:
        chat = await bot.get_chat(chat_id)
    except (TelegramBadRequest, TelegramForbiddenError):
        return CheckReport(chat_id, "", problems=(CheckProblem.NOT_FOUND,))
    title = chat.title or ""
    if chat.type != ChatType.SUPERGROUP:
        return CheckReport(chat_id, title, problems=(CheckProblem.NOT_SUPERGROUP,))
    problems: list[CheckProblem] = []
    if not chat.is_forum:
        problems.append(CheckProblem.NOT_FORUM)
    member = await bot.get_chat_member(chat_id, user_id)
    if member.status not in (ChatMemberStatus.CREATOR, ChatMemberStatus.ADMINISTRATOR):
        problems.append(CheckProblem.USER_NOT_ADMIN)
    me = await bot.get_chat_member(chat_id, bot.id)
    missing: tuple[str, ...] = ()
    warnings: list[CheckWarning] = []
    extra: tuple[str, ...] = ()
    if not isinstance(me, ChatMemberAdministrator):
        problems.append(CheckProblem.BOT_NOT_ADMIN)
    else:
        missing = tuple(r for r in REQUIRED_RIGHTS if not getattr(me, r, False))
        if missing:
            problems.append(CheckProblem.BOT_MISSING_RIGHTS)
        if not me.can_pin_messages:
            warnings.append(CheckWarning.CANNOT_PIN)
        extra = tuple(
            name
            for name in _ALL_RIGHTS
            if name not in WANTED_RIGHTS
            and name not in _IMPLIED_RIGHTS
            and getattr(me, name, False) is True
        )
        if extra:
            warnings.append(CheckWarning.EXTRA_RIGHTS)
    others = 0
    try:
        count = await bot.get_chat_member_count(chat_id)
        admins = await bot.get_chat_administrators(chat_id)
        other_bots = sum(1 for a in admins if a.user.is_bot and a.user.id != bot.id)
        # Everyone but the user, this bot and other bots.
        others = max(0, count - 2 - other_bots)
    except TelegramAPIError:
        log.info("member count unavailable; no warning about other members")
    if others:
        warnings.append(CheckWarning.OTHER_MEMBERS)
    return CheckReport(
        chat_id,
        title,
        problems=tuple(problems),
        missing_rights=missing,
        warnings=tuple(warnings),
        other_members=others,
        extra_rights=extra,
    )


async def ensure_topics(
    bot: GroupAdmin,
    session: AsyncSession,
    server: LogServer,
    chat_id: int,
    names: Mapping[RecordKind, str],
    again: Collection[RecordKind] = (),
) -> list[RecordKind]:
    """Create the topics the log server does not have yet, and those in `again` (gone from the
    group, `missing_topics`); returns the kinds created. Each id is committed as it comes."""
    created: list[RecordKind] = []
    for kind in RecordKind:
        if kind in ON_DEMAND or (thread_of(server, kind) is not None and kind not in again):
            continue
        topic = await bot.create_forum_topic(
            chat_id, names[kind], icon_color=TOPIC_ICON_COLORS[kind]
        )
        set_thread(server, kind, topic.message_thread_id)
        await session.commit()
        created.append(kind)
    return created


async def missing_topics(bot: GroupAdmin, server: LogServer, chat_id: int) -> list[RecordKind]:
    """Topics the log server knows but the group no longer has (the user deleted them).

    The Bot API cannot list a forum's topics; a chat action into each topic is the lightest
    call that fails ("message thread not found") when the topic is gone. Nothing is changed
    here: `ensure_topics(again=…)` makes them again and stores their new ids.
    """
    missing: list[RecordKind] = []
    for kind in RecordKind:
        thread_id = thread_of(server, kind)
        if thread_id is None:
            if kind not in ON_DEMAND:
                missing.append(kind)
            continue
        try:
            await bot.send_chat_action(chat_id, ChatAction.TYPING, message_thread_id=thread_id)
        except TelegramBadRequest as exc:
            if "thread not found" not in exc.message.lower():
                raise
            missing.append(kind)
    return missing


async def post_panel(
    bot: GroupAdmin,
    session: AsyncSession,
    server: LogServer,
    chat_id: int,
    text: str,
    markup: InlineKeyboardMarkup,
) -> bool:
    """Send the control panel to the General topic (its id committed) and pin it; False when
    it could not be pinned (missing right)."""
    message = await bot.send_message(chat_id, text, reply_markup=markup, disable_notification=True)
    server.panel_message_id = message.message_id
    await session.commit()
    try:
        await bot.pin_chat_message(chat_id, message.message_id, disable_notification=True)
    except (TelegramBadRequest, TelegramForbiddenError):
        return False
    return True
