"""The desk's texts and buttons (the `DeskUI` port of services/concierge), in the desk's
language: the operators' default locale, since a desk is shared by all staff."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiogram.types import InlineKeyboardMarkup

from bot.db.models import User
from bot.db.models.concierge import ConciergeTemplate
from bot.i18n import I18n, Translator
from bot.settings import Settings
from keyboards import concierge as kb


class DeskTexts:
    def __init__(self, translator: Translator, settings: Settings) -> None:
        self.i18n = translator.for_locale(settings.default_locale)
        self.translator = translator
        self.default_locale = settings.default_locale

    def text(self, key: str, **args: Any) -> str:
        return self.i18n(key, **args)

    def for_user(self, user: User, key: str, **args: Any) -> str:
        locale = user.effective_locale(self.default_locale)
        return I18n(self.translator, self.translator.resolve_locale(locale))(key, **args)

    def controls(
        self, session_id: int, relay_id: int, templates: Sequence[ConciergeTemplate]
    ) -> InlineKeyboardMarkup:
        return kb.desk_controls(self.i18n, session_id, templates)

    def draft_controls(self, session_id: int, draft_id: int) -> InlineKeyboardMarkup:
        return kb.draft_controls(self.i18n, session_id, draft_id)
