"""AI rooms keyboards: the room panel and its sub-menus, the buttons under room answers.

Every payload names the room; the handler checks that the pressed message's chat *is* that room
and re-checks the presser's role on the server (a button is never a permission)."""

from __future__ import annotations

import enum

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import I18n
from services.ai import personas
from services.ai.catalogue import ModelInfo
from services.rooms.roles import Permission


class AnswerAction(enum.StrEnum):
    REGENERATE = "r"
    EXCLUDE = "x"
    STOP = "s"


class RoomAnswerCD(CallbackData, prefix="rm1"):
    action: AnswerAction
    room: int
    # exchange id (regenerate, exclude) or draft id (stop)
    ref: str


class PanelAction(enum.StrEnum):
    SETUP = "su"
    HOME = "h"
    MODEL = "m"
    MODEL_SET = "ms"
    PERSONA = "p"
    PERSONA_SET = "ps"
    BUDGET = "b"
    BUDGET_SET = "bs"
    CAP = "c"
    CAP_SET = "cs"
    QUOTA = "q"
    QUOTA_SET = "qs"
    GUESTS = "g"
    TRIGGER = "t"
    NEWCOMER = "n"
    USAGE = "u"
    ROLES = "ro"
    HANDOVER_YES = "hy"
    HANDOVER_NO = "hn"


class RoomPanelCD(CallbackData, prefix="rp1"):
    action: PanelAction
    room: int
    value: int = 0


NEEDS: dict[PanelAction, Permission] = {
    PanelAction.HOME: Permission.VIEW_PANEL,
    PanelAction.ROLES: Permission.VIEW_PANEL,
    PanelAction.USAGE: Permission.USAGE_OWN,
    PanelAction.MODEL: Permission.CHANGE_MODEL,
    PanelAction.MODEL_SET: Permission.CHANGE_MODEL,
    PanelAction.PERSONA: Permission.CHANGE_PERSONA,
    PanelAction.PERSONA_SET: Permission.CHANGE_PERSONA,
    PanelAction.BUDGET: Permission.SET_BUDGET,
    PanelAction.BUDGET_SET: Permission.SET_BUDGET,
    PanelAction.CAP: Permission.SET_BUDGET,
    PanelAction.CAP_SET: Permission.SET_BUDGET,
    PanelAction.QUOTA: Permission.CHANGE_SETTINGS,
    PanelAction.QUOTA_SET: Permission.CHANGE_SETTINGS,
    PanelAction.GUESTS: Permission.CHANGE_SETTINGS,
    PanelAction.TRIGGER: Permission.CHANGE_SETTINGS,
    PanelAction.NEWCOMER: Permission.CHANGE_SETTINGS,
}
"""What each panel button needs (setup and hand-over have their own rules)."""


def setup_keyboard(i18n: I18n) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=i18n("rooms-button-setup"),
        callback_data=RoomPanelCD(action=PanelAction.SETUP, room=0),
    )
    return builder.as_markup()


def panel_keyboard(i18n: I18n, room: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for action, key in (
        (PanelAction.MODEL, "rooms-button-model"),
        (PanelAction.PERSONA, "rooms-button-persona"),
        (PanelAction.BUDGET, "rooms-button-budget"),
        (PanelAction.CAP, "rooms-button-cap"),
        (PanelAction.GUESTS, "rooms-button-guests"),
        (PanelAction.QUOTA, "rooms-button-quota"),
        (PanelAction.TRIGGER, "rooms-button-trigger"),
        (PanelAction.NEWCOMER, "rooms-button-newcomer"),
        (PanelAction.ROLES, "rooms-button-roles"),
        (PanelAction.USAGE, "rooms-button-usage"),
    ):
        builder.button(text=i18n(key), callback_data=RoomPanelCD(action=action, room=room))
    builder.adjust(2)
    return builder.as_markup()


def _back(builder: InlineKeyboardBuilder, i18n: I18n, room: int) -> None:
    builder.button(
        text=i18n("rooms-button-back"),
        callback_data=RoomPanelCD(action=PanelAction.HOME, room=room),
    )


def models_keyboard(
    i18n: I18n, room: int, models: list[ModelInfo], indexes: dict[str, int], current: str | None
) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for model in models:
        mark = "✅ " if model.id == current else ""
        builder.button(
            text=f"{mark}{model.name}",
            callback_data=RoomPanelCD(
                action=PanelAction.MODEL_SET, room=room, value=indexes[model.id]
            ),
        )
    _back(builder, i18n, room)
    builder.adjust(2)
    return builder.as_markup()


def personas_keyboard(i18n: I18n, room: int, current: str | None) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for index, persona in enumerate(personas.SHIPPED):
        mark = "✅ " if persona.id == (current or personas.DEFAULT) else ""
        builder.button(
            text=mark + i18n(f"chat-persona-{persona.id}"),
            callback_data=RoomPanelCD(action=PanelAction.PERSONA_SET, room=room, value=index),
        )
    _back(builder, i18n, room)
    builder.adjust(2)
    return builder.as_markup()


def steps_keyboard(
    i18n: I18n, room: int, action: PanelAction, steps: tuple[int, ...], current: int
) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for step in steps:
        mark = "✅ " if step == current else ""
        label = i18n("rooms-unlimited") if step == 0 else str(step)
        builder.button(
            text=mark + label, callback_data=RoomPanelCD(action=action, room=room, value=step)
        )
    _back(builder, i18n, room)
    builder.adjust(3)
    return builder.as_markup()


def back_keyboard(i18n: I18n, room: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    _back(builder, i18n, room)
    return builder.as_markup()


def handover_keyboard(i18n: I18n, room: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=i18n("rooms-button-accept"),
        callback_data=RoomPanelCD(action=PanelAction.HANDOVER_YES, room=room),
    )
    builder.button(
        text=i18n("rooms-button-decline"),
        callback_data=RoomPanelCD(action=PanelAction.HANDOVER_NO, room=room),
    )
    return builder.as_markup()


def answer_keyboard(i18n: I18n, room: int, exchange: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=i18n("rooms-button-regenerate"),
        callback_data=RoomAnswerCD(action=AnswerAction.REGENERATE, room=room, ref=exchange),
    )
    builder.button(
        text=i18n("rooms-button-exclude"),
        callback_data=RoomAnswerCD(action=AnswerAction.EXCLUDE, room=room, ref=exchange),
    )
    return builder.as_markup()


def stop_keyboard(i18n: I18n, room: int, draft_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=i18n("chat-button-stop"),
        callback_data=RoomAnswerCD(action=AnswerAction.STOP, room=room, ref=str(draft_id)),
    )
    return builder.as_markup()


def start_bot_keyboard(i18n: I18n, username: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=i18n("rooms-button-start-bot"), url=f"https://t.me/{username}?start=room")
    return builder.as_markup()
