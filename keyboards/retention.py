"""The /forget confirmation buttons."""

from __future__ import annotations

import enum

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import I18n


class ForgetAction(enum.StrEnum):
    CONFIRM = "ok"
    CANCEL = "no"


class ForgetCD(CallbackData, prefix="fgt1"):
    action: ForgetAction
    # Single-use value stored server-side: an old or forwarded keyboard cannot delete anything.
    nonce: str


def forget_keyboard(i18n: I18n, nonce: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=i18n("forget-button-confirm"),
        callback_data=ForgetCD(action=ForgetAction.CONFIRM, nonce=nonce),
    )
    builder.button(
        text=i18n("forget-button-cancel"),
        callback_data=ForgetCD(action=ForgetAction.CANCEL, nonce=nonce),
    )
    builder.adjust(1)
    return builder.as_markup()
