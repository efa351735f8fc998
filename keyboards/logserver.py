"""Log server keyboards: the group picker, the private status panel and the pinned group panel."""

from __future__ import annotations

import enum

from aiogram.filters.callback_data import CallbackData
from aiogram.types import (
    InlineKeyboardMarkup,
    KeyboardButton,
    KeyboardButtonRequestChat,
    ReplyKeyboardMarkup,
    WebAppInfo,
)
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import I18n
from services.logserver.onboarding import bot_rights, user_rights

# The request_id of the "pick a group" button; chat_shared carries it back.
REQUEST_GROUP = 4001


class SetupAction(enum.StrEnum):
    RECHECK = "check"
    CHANGE_KEY = "key"
    DISCONNECT = "disc"
    DISCONNECT_YES = "disc!"
    CANCEL = "cancel"


class SetupCD(CallbackData, prefix="lss1"):
    action: SetupAction


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
    return forum_picker(i18n("logserver-btn-pick-group"), REQUEST_GROUP)


def forum_picker(text: str, request_id: int) -> ReplyKeyboardMarkup:
    """A forum supergroup the user administers, the bot added with the log server's rights."""
    button = KeyboardButton(
        text=text,
        request_chat=KeyboardButtonRequestChat(
            request_id=request_id,
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


def key_choice_keyboard(i18n: I18n, keygen_url: str) -> InlineKeyboardMarkup:
    """The Mini App that makes a key pair on the user's device (only the public key comes back)."""
    builder = InlineKeyboardBuilder()
    builder.button(text=i18n("keygen-btn-open"), web_app=WebAppInfo(url=keygen_url))
    return builder.as_markup()


def _add_buttons(
    builder: InlineKeyboardBuilder, i18n: I18n, buttons: list[tuple[str, CallbackData]]
) -> None:
    for text_key, callback_data in buttons:
        builder.button(text=i18n(text_key), callback_data=callback_data)


def _confirm_keyboard(
    i18n: I18n, confirm_key: str, confirm: CallbackData, cancel: CallbackData
) -> InlineKeyboardMarkup:
    """A destructive action's confirmation: the action and a cancel, one a row."""
    builder = InlineKeyboardBuilder()
    _add_buttons(builder, i18n, [(confirm_key, confirm), ("logserver-btn-cancel", cancel)])
    builder.adjust(1)
    return builder.as_markup()


def status_keyboard(i18n: I18n, *, confirm_disconnect: bool = False) -> InlineKeyboardMarkup:
    if confirm_disconnect:
        return _confirm_keyboard(
            i18n,
            "logserver-btn-confirm-disconnect",
            SetupCD(action=SetupAction.DISCONNECT_YES),
            SetupCD(action=SetupAction.CANCEL),
        )
    builder = InlineKeyboardBuilder()
    _add_buttons(
        builder,
        i18n,
        [
            ("logserver-btn-recheck", SetupCD(action=SetupAction.RECHECK)),
            ("logserver-btn-change-key", SetupCD(action=SetupAction.CHANGE_KEY)),
            ("logserver-btn-disconnect", SetupCD(action=SetupAction.DISCONNECT)),
        ],
    )
    builder.adjust(2, 1)
    return builder.as_markup()


# The destructive panel actions: the confirmation's button text and the action it confirms.
_PANEL_CONFIRMS = {
    PanelAction.PURGE: ("logserver-btn-confirm-purge", PanelAction.PURGE_YES),
    PanelAction.DISCONNECT: ("logserver-btn-confirm-disconnect", PanelAction.DISCONNECT_YES),
}


def panel_keyboard(
    i18n: I18n, *, paused: bool, confirm: PanelAction | None = None
) -> InlineKeyboardMarkup:
    """The pinned control panel; `confirm` shows the confirmation of a destructive action."""
    pending = _PANEL_CONFIRMS.get(confirm) if confirm is not None else None
    if pending is not None:
        confirm_key, confirmed = pending
        return _confirm_keyboard(
            i18n,
            confirm_key,
            PanelCD(action=confirmed),
            PanelCD(action=PanelAction.CANCEL),
        )
    toggle = (
        ("logserver-btn-resume", PanelAction.RESUME)
        if paused
        else ("logserver-btn-pause", PanelAction.PAUSE)
    )
    builder = InlineKeyboardBuilder()
    _add_buttons(
        builder,
        i18n,
        [
            (text_key, PanelCD(action=action))
            for text_key, action in (
                toggle,
                ("logserver-btn-test", PanelAction.TEST),
                ("logserver-btn-rotate", PanelAction.ROTATE),
                ("logserver-btn-purge", PanelAction.PURGE),
                ("logserver-btn-disconnect", PanelAction.DISCONNECT),
            )
        ],
    )
    builder.adjust(2, 2, 1)
    return builder.as_markup()
