"""Ports shared by several services: what a service needs from the outside, as small Protocols.

Services never import `bot.*` wiring modules (settings, i18n) or aiogram's `Bot`; they receive
an object with this shape. `bot.i18n.Translator` is the `Localiser`. aiogram's `Bot` satisfies
every sender port as it is (the methods below are its own, cut to the arguments we pass);
`bot/app.py` hands the one `Bot` whose HTTP session carries the send budget to every service, so
no send of a service escapes the budget. Tests pass fakes with the same shape.

The types imported from aiogram are Telegram's data types and errors, not its client.
"""

from __future__ import annotations

from typing import Any, Protocol

from aiogram.types import (
    ChatFullInfo,
    ForumTopic,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    ReplyParameters,
    ResultChatMemberUnion,
)


class Localiser(Protocol):
    """Catalogue text in one of the supported locales (`bot.i18n.Translator`)."""

    def resolve_locale(self, *candidates: str | None) -> str:
        """The first supported locale among the candidates, else the default."""
        ...

    def get(self, locale: str, key: str, **args: Any) -> str:
        """The message `key` in `locale`; string arguments are inserted as given."""
        ...


class MessageSender(Protocol):
    """Sends and edits messages and documents (broadcasts, audit records, log records)."""

    async def send_message(
        self,
        chat_id: int | str,
        text: str,
        *,
        message_thread_id: int | None = None,
        parse_mode: str | None = ...,
        disable_notification: bool | None = None,
        reply_parameters: ReplyParameters | None = None,
        reply_markup: InlineKeyboardMarkup | None = None,
        request_timeout: int | None = None,
    ) -> Message: ...

    async def edit_message_text(
        self,
        text: str | None = None,
        *,
        chat_id: int | str | None = None,
        message_id: int | None = None,
        parse_mode: str | None = ...,
        reply_markup: InlineKeyboardMarkup | None = None,
    ) -> Message | bool: ...

    async def send_document(
        self,
        chat_id: int | str,
        document: InputFile | str,
        *,
        message_thread_id: int | None = None,
        caption: str | None = None,
        disable_notification: bool | None = None,
        request_timeout: int | None = None,
    ) -> Message: ...


class ChatActions(Protocol):
    async def send_chat_action(
        self, chat_id: int | str, action: str, *, message_thread_id: int | None = None
    ) -> bool: ...


class StreamSender(MessageSender, ChatActions, Protocol):
    """What a streamed AI answer needs: drafts, messages, edits and "typing…"."""

    async def send_message_draft(
        self,
        chat_id: int,
        draft_id: int,
        *,
        message_thread_id: int | None = None,
        text: str | None = None,
        parse_mode: str | None = ...,
        can_stop: bool | None = None,
    ) -> bool: ...


class ForumTopics(Protocol):
    async def create_forum_topic(
        self, chat_id: int | str, name: str, *, icon_color: int | None = None
    ) -> ForumTopic: ...


class LogSender(MessageSender, ForumTopics, Protocol):
    """What the log-server delivery needs: records into topics, a topic made again."""


class GroupAdmin(MessageSender, ChatActions, ForumTopics, Protocol):
    """What setting up a log group needs: who is in it with which rights, topics, the pin."""

    @property
    def id(self) -> int:
        """The bot's own user id."""
        ...

    async def get_chat(self, chat_id: int | str) -> ChatFullInfo: ...

    async def get_chat_member(self, chat_id: int | str, user_id: int) -> ResultChatMemberUnion: ...

    async def get_chat_member_count(self, chat_id: int | str) -> int: ...

    async def get_chat_administrators(self, chat_id: int | str) -> list[ResultChatMemberUnion]: ...

    async def pin_chat_message(
        self, chat_id: int | str, message_id: int, *, disable_notification: bool | None = None
    ) -> bool: ...


class TelegramPort(StreamSender, GroupAdmin, Protocol):
    """Every sender port at once: the shape of the `Bot` that `bot/app.py` hands out."""
