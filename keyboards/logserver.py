"""Log server keyboards: the group picker, the private status panel and the pinned group panel."""

from __future__ import annotations

import enum

from aiogram.filters.callback_data import CallbackData
from aiogram.types import (
    InlineKeyboardMarkup,
    KeyboardButton,
    KeyboardButtonRequestChat,
    ReplyKeyboardMarkup,
)
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import I18n
from services.logserver.onboarding import bot_rights, user_rights

# The request_id of the "pick a group" button; chat_shared carries it back.
REQUEST_GROUP = 4001


class SetupAction(enum.StrEnum):
    GENERATE = "gen"
    SAVED = "saved"  # the user saved the generated secret key: delete it from the chat
    RECHECK = "check"
    CHANGE_KEY = "key"
    DISCONNECT = "disc"
    DISCONNECT_YES = "disc!"
    CANCEL = "cancel"


class SetupCD(CallbackData, prefix="lss1"):
    action: SetupAction
    a: int = 0
    b: int = 0


class PanelAction(enum.StrEnum):
    PAUSE = "pause"
    RESUME = "resume"
    TEST = "test"
    ROTATE = "rotate"
    PURGE = "purge"
    PURGE_YES = "purge!"
    DISCONNECT = "disc"
    DISCONNECT_YES = "disc!"
    CANCEL = "cancel"


class PanelCD(CallbackData, prefix="lsp1"):
    action: PanelAction


def pick_group_keyboard(i18n: I18n) -> ReplyKeyboardMarkup:
    """One tap: Telegram lets the user pick (or create) a forum supergroup and adds the bot."""
    button = KeyboardButton(
        text=i18n("logserver-btn-pick-group"),
        request_chat=KeyboardButtonRequestChat(
            request_id=REQUEST_GROUP,
            chat_is_channel=False,
            chat_is_forum=True,
            user_administrator_rights=user_rights(),
            bot_administrator_rights=bot_rights(),
            request_title=True,
        ),
    )
    return ReplyKeyboardMarkup(keyboard=[[button]], resize_keyboard=True, one_time_keyboard=True)


def startgroup_keyboard(i18n: I18n, url: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=i18n("logserver-btn-startgroup"), url=url)
    return builder.as_markup()


def key_choice_keyboard(i18n: I18n) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=i18n("logserver-btn-generate"), callback_data=SetupCD(action=SetupAction.GENERATE)
    )
    return builder.as_markup()


def key_saved_keyboard(
    i18n: I18n, key_message_id: int, passphrase_message_id: int
) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=i18n("logserver-btn-key-saved"),
        callback_data=SetupCD(action=SetupAction.SAVED, a=key_message_id, b=passphrase_message_id),
    )
    return builder.as_markup()


def status_keyboard(i18n: I18n, *, confirm_disconnect: bool = False) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    if confirm_disconnect:
        builder.button(
            text=i18n("logserver-btn-confirm-disconnect"),
            callback_data=SetupCD(action=SetupAction.DISCONNECT_YES),
        )
        builder.button(
            text=i18n("logserver-btn-cancel"), callback_data=SetupCD(action=SetupAction.CANCEL)
        )
        builder.adjust(1)
        return builder.as_markup()
    builder.button(
        text=i18n("logserver-btn-recheck"), callback_data=SetupCD(action=SetupAction.RECHECK)
    )
    builder.button(
        text=i18n("logserver-btn-change-key"), callback_data=SetupCD(action=SetupAction.CHANGE_KEY)
    )
    builder.button(
        text=i18n("logserver-btn-disconnect"), callback_data=SetupCD(action=SetupAction.DISCONNECT)
    )
    builder.adjust(2, 1)
    return builder.as_markup()


def panel_keyboard(
    i18n: I18n, *, paused: bool, confirm: PanelAction | None = None
) -> InlineKeyboardMarkup:
    """The pinned control panel; `confirm` shows the confirmation of a destructive action."""
    builder = InlineKeyboardBuilder()
    if confirm is PanelAction.PURGE:
        builder.button(
            text=i18n("logserver-btn-confirm-purge"),
            callback_data=PanelCD(action=PanelAction.PURGE_YES),
        )
        builder.button(
            text=i18n("logserver-btn-cancel"), callback_data=PanelCD(action=PanelAction.CANCEL)
        )
        builder.adjust(1)
        return builder.as_markup()
    if confirm is PanelAction.DISCONNECT:
        builder.button(
            text=i18n("logserver-btn-confirm-disconnect"),
            callback_data=PanelCD(action=PanelAction.DISCONNECT_YES),
        )
        builder.button(
            text=i18n("logserver-btn-cancel"), callback_data=PanelCD(action=PanelAction.CANCEL)
        )
        builder.adjust(1)
        return builder.as_markup()
    if paused:
        builder.button(
            text=i18n("logserver-btn-resume"), callback_data=PanelCD(action=PanelAction.RESUME)
        )
    else:
        builder.button(
            text=i18n("logserver-btn-pause"), callback_data=PanelCD(action=PanelAction.PAUSE)
        )
    builder.button(text=i18n("logserver-btn-test"), callback_data=PanelCD(action=PanelAction.TEST))
    builder.button(
        text=i18n("logserver-btn-rotate"), callback_data=PanelCD(action=PanelAction.ROTATE)
    )
    builder.button(
        text=i18n("logserver-btn-purge"), callback_data=PanelCD(action=PanelAction.PURGE)
    )
    builder.button(
        text=i18n("logserver-btn-disconnect"), callback_data=PanelCD(action=PanelAction.DISCONNECT)
    )
    builder.adjust(2, 2, 1)
    return builder.as_markup()
