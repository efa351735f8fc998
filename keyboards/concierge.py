"""Concierge keyboards: the persona list, the buttons in the desk's topics, the staff panel.

Callback data carries ids only; every handler re-checks the role and the session on the server.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

from aiogram.filters.callback_data import CallbackData
from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    ReplyKeyboardMarkup,
)
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.db.models.concierge import ConciergePersona, ConciergeTemplate
from bot.i18n import I18n
from keyboards.logserver import forum_picker

# `request_id` of the desk picker (the log server's picker uses 4001).
REQUEST_DESK = 4015


class DeskAction(enum.StrEnum):
    CLAIM = "cl"
    RELEASE = "rl"
    CLOSE = "cx"
    DRAFT = "dr"
    SEND_DRAFT = "sd"
    TEMPLATE = "tp"


class DeskCD(CallbackData, prefix="cd1"):
    """A button in a session's topic: ``session`` is the session, ``ref`` a template or draft."""

    action: DeskAction
    session: int
    ref: int = 0


class UserAction(enum.StrEnum):
    CHAT = "ch"  # open a session with persona ``ref``
    SKIP_NAME = "sk"


class ConciergeUserCD(CallbackData, prefix="cu1"):
    action: UserAction
    ref: int = 0


class StaffAction(enum.StrEnum):
    MENU = "m"
    PERSONAS = "p"
    NEW_PERSONA = "np"
    TOGGLE_PERSONA = "tp"
    SKIP_AVATAR = "sa"
    TEMPLATES = "t"
    NEW_TEMPLATE = "nt"
    DELETE_TEMPLATE = "dt"
    QUEUE = "q"
    LINK_DESK = "ld"
    ROLE = "r"  # from the admin panel's user card: give or take back the Staff role of ``ref``


class StaffCD(CallbackData, prefix="cs1"):
    action: StaffAction
    ref: int = 0


def persona_card(i18n: I18n, persona_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=i18n("concierge-btn-chat"),
        callback_data=ConciergeUserCD(action=UserAction.CHAT, ref=persona_id),
    )
    return builder.as_markup()


def skip_name(i18n: I18n) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=i18n("concierge-btn-skip-name"),
        callback_data=ConciergeUserCD(action=UserAction.SKIP_NAME),
    )
    return builder.as_markup()


def desk_controls(
    i18n: I18n, session_id: int, templates: Sequence[ConciergeTemplate]
) -> InlineKeyboardMarkup:
    """Under every user message in the topic: claim, release, close, an AI draft and templates."""

    def button(text: str, action: DeskAction, ref: int = 0) -> InlineKeyboardButton:
        data = DeskCD(action=action, session=session_id, ref=ref).pack()
        return InlineKeyboardButton(text=text, callback_data=data)

    rows = [
        [
            button(i18n("concierge-btn-claim"), DeskAction.CLAIM),
            button(i18n("concierge-btn-release"), DeskAction.RELEASE),
            button(i18n("concierge-btn-close"), DeskAction.CLOSE),
        ],
        [button(i18n("concierge-btn-draft"), DeskAction.DRAFT)],
    ]
    row: list[InlineKeyboardButton] = []
    for template in templates:
        row.append(button(f"📋 {template.title}", DeskAction.TEMPLATE, template.id))
        if len(row) == 2:
            rows.append(row)
            row = []
    if row:
        rows.append(row)
    return InlineKeyboardMarkup(inline_keyboard=rows)


def draft_controls(i18n: I18n, session_id: int, draft_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=i18n("concierge-btn-send-draft"),
        callback_data=DeskCD(action=DeskAction.SEND_DRAFT, session=session_id, ref=draft_id),
    )
    return builder.as_markup()


def _staff(text: str, action: StaffAction, ref: int = 0) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=StaffCD(action=action, ref=ref).pack())


def staff_menu(i18n: I18n, *, operator: bool) -> InlineKeyboardMarkup:
    rows = [
        [
            _staff(i18n("concierge-btn-personas"), StaffAction.PERSONAS),
            _staff(i18n("concierge-btn-new-persona"), StaffAction.NEW_PERSONA),
        ],
        [
            _staff(i18n("concierge-btn-templates"), StaffAction.TEMPLATES),
            _staff(i18n("concierge-btn-new-template"), StaffAction.NEW_TEMPLATE),
        ],
        [_staff(i18n("concierge-btn-queue"), StaffAction.QUEUE)],
    ]
    if operator:
        rows.append([_staff(i18n("concierge-btn-link-desk"), StaffAction.LINK_DESK)])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def persona_list(i18n: I18n, found: Sequence[ConciergePersona]) -> InlineKeyboardMarkup:
    rows = [
        [
            _staff(
                i18n(
                    "concierge-btn-persona-state",
                    name=p.name,
                    state="on" if p.active else "off",
                ),
                StaffAction.TOGGLE_PERSONA,
                p.id,
            )
        ]
        for p in found
    ]
    rows.append([_staff(i18n("concierge-btn-back"), StaffAction.MENU)])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def template_list(i18n: I18n, found: Sequence[ConciergeTemplate]) -> InlineKeyboardMarkup:
    rows = [
        [
            _staff(
                i18n("concierge-btn-delete-template", title=t.title),
                StaffAction.DELETE_TEMPLATE,
                t.id,
            )
        ]
        for t in found
    ]
    rows.append([_staff(i18n("concierge-btn-back"), StaffAction.MENU)])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def skip_avatar(i18n: I18n) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[_staff(i18n("concierge-btn-skip-avatar"), StaffAction.SKIP_AVATAR)]]
    )


def queue_links(i18n: I18n, links: Sequence[tuple[str, str]]) -> InlineKeyboardMarkup | None:
    if not links:
        return None
    rows = [[InlineKeyboardButton(text=label, url=url)] for label, url in links]
    return InlineKeyboardMarkup(inline_keyboard=rows)


def staff_role_button(i18n: I18n, user_id: int) -> InlineKeyboardButton:
    """For the admin panel's user card."""
    return _staff(i18n("concierge-btn-staff-role"), StaffAction.ROLE, user_id)


def pick_desk(i18n: I18n) -> ReplyKeyboardMarkup:
    """The operator picks the desk as a user picks a log server: a forum, the bot an admin."""
    return forum_picker(i18n("concierge-btn-pick-desk"), REQUEST_DESK)
