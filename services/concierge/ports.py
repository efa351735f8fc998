"""What the concierge service needs from the outside: the Bot API calls it makes (`DeskSender`,
satisfied by aiogram's `Bot` as `bot/app.py` hands it out, through the send budget) and the
presentation side (`DeskUI`, built by the handlers)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from aiogram.types import (
    InlineKeyboardMarkup,
    InputFile,
    Message,
    MessageEntity,
    MessageId,
    ReplyParameters,
)

from bot.db.models import User
from bot.db.models.concierge import ConciergeTemplate
from services.ports import GroupAdmin


class DeskSender(GroupAdmin, Protocol):
    """The desk's topics and the relay both ways (aiogram's own methods, cut to our arguments)."""

    async def send_message(
        self,
        chat_id: int | str,
        text: str,
        *,
        message_thread_id: int | None = None,
        parse_mode: str | None = ...,
        entities: list[MessageEntity] | None = None,
        disable_notification: bool | None = None,
        reply_parameters: ReplyParameters | None = None,
        reply_markup: InlineKeyboardMarkup | None = None,
        request_timeout: int | None = None,
    ) -> Message: ...

    async def send_photo(
        self,
        chat_id: int | str,
        photo: InputFile | str,
        *,
        message_thread_id: int | None = None,
        caption: str | None = None,
        parse_mode: str | None = ...,
        caption_entities: list[MessageEntity] | None = None,
        reply_markup: InlineKeyboardMarkup | None = None,
    ) -> Message: ...

    async def send_sticker(
        self,
        chat_id: int | str,
        sticker: InputFile | str,
        *,
        message_thread_id: int | None = None,
        reply_markup: InlineKeyboardMarkup | None = None,
    ) -> Message: ...

    async def copy_message(
        self, chat_id: int | str, from_chat_id: int | str, message_id: int
    ) -> MessageId: ...

    async def edit_forum_topic(
        self, chat_id: int | str, message_thread_id: int, *, name: str | None = None
    ) -> bool: ...

    async def close_forum_topic(self, chat_id: int | str, message_thread_id: int) -> bool: ...


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
