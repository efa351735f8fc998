"""What the concierge service needs from the presentation side (built by the handlers)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from aiogram.types import InlineKeyboardMarkup

from bot.db.models import User
from bot.db.models.concierge import ConciergeTemplate


class DeskUI(Protocol):
    """Texts and buttons in the staff desk, in the desk's language."""

    def text(self, key: str, **args: Any) -> str: ...

    def for_user(self, user: User, key: str, **args: Any) -> str:
        """A text for the user (not the desk), in the user's language."""
        ...

    def controls(
        self, session_id: int, relay_id: int, templates: Sequence[ConciergeTemplate]
    ) -> InlineKeyboardMarkup: ...

    def draft_controls(self, session_id: int, draft_id: int) -> InlineKeyboardMarkup: ...
