"""The language picker."""

from __future__ import annotations

import enum

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import I18n


class LanguageAction(enum.StrEnum):
    SET = "set"


class LanguageCD(CallbackData, prefix="lang1"):
    action: LanguageAction
    locale: str


def language_keyboard(i18n: I18n) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for locale in i18n.translator.locales:
        # Each language is named in itself, so a lost user can still find theirs.
        label = i18n.translator.get(locale, "language-name")
        mark = "✓ " if locale == i18n.locale else ""
        builder.button(
            text=mark + label, callback_data=LanguageCD(action=LanguageAction.SET, locale=locale)
        )
    builder.adjust(2)
    return builder.as_markup()
