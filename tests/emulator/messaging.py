"""Rules shared by the methods that send or edit messages: text, captions, keyboards, replies."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .errors import (
    BUTTON_DATA_INVALID,
    CAPTION_TOO_LONG,
    MESSAGE_TEXT_EMPTY,
    MESSAGE_TOO_LONG,
    bad_request,
)
from .html_entities import Entity, ParseError, UnsupportedParseMode, format_text
from .state import Chat, StoredMessage

if TYPE_CHECKING:
    from .server import BotAPIEmulator

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
MAX_BUTTONS = 100
_URL_RE = re.compile(r"^(https?|tg)://[^\s/$.?#][^\s]*$", re.IGNORECASE)
# Inline keyboard buttons need exactly one of these.
_INLINE_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
    "disabled",
)


def parse_formatted(
    text: str, parse_mode: str | None, entities: list[Entity] | None
) -> tuple[str, list[Entity]]:
    try:
        return format_text(text, parse_mode, entities)
    except UnsupportedParseMode as exc:
        raise bad_request("unsupported parse_mode") from exc
    except ParseError as exc:
        raise bad_request(f"can't parse entities: {exc}") from exc


def message_text(
    text: str, parse_mode: str | None, entities: list[Entity] | None
) -> tuple[str, list[Entity]]:
    """Text of sendMessage/editMessageText: 1–4096 characters after entity parsing."""
    parsed, found = parse_formatted(text, parse_mode, entities)
    if not parsed:
        raise bad_request(MESSAGE_TEXT_EMPTY)
    if len(parsed) > MAX_TEXT:
        raise bad_request(MESSAGE_TOO_LONG)
    return parsed, found


def caption_text(
    caption: str | None, parse_mode: str | None, entities: list[Entity] | None
) -> dict[str, Any]:
    """Caption fields for a media message (empty dict when there is no caption)."""
    if not caption:
        return {}
    parsed, found = parse_formatted(caption, parse_mode, entities)
    if len(parsed) > MAX_CAPTION:
        raise bad_request(CAPTION_TOO_LONG)
    body: dict[str, Any] = {}
    if parsed:
        body["caption"] = parsed
    if found:
        body["caption_entities"] = found
    return body


def check_reply_markup(markup: dict[str, Any] | None) -> dict[str, Any] | None:
    """Telegram's checks on keyboards beyond the schema (callback_data size, one action)."""
    if markup is None:
        return None
    rows = markup.get("inline_keyboard") or markup.get("keyboard") or []
    if sum(len(row) for row in rows) > MAX_BUTTONS:
        raise bad_request("reply markup is too long")
    if "inline_keyboard" in markup:
        for row in markup["inline_keyboard"]:
            for button in row:
                url = button.get("url")
                if url is not None and not _URL_RE.match(url):
                    raise bad_request(
                        f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL"
                    )
                web_app = button.get("web_app")
                if web_app is not None and not str(web_app.get("url", "")).startswith("https://"):
                    raise bad_request(
                        f"inline keyboard button Web App URL '{web_app.get('url')}' is invalid: "
                        "Only HTTPS links are allowed"
                    )
                actions = [a for a in _INLINE_ACTIONS if a in button]
                if not actions:
                    raise bad_request(
                        "can't parse inline keyboard button: Text buttons are unallowed in the "
                        "inline keyboard"
                    )
                if "callback_data" in button:
                    size = len(button["callback_data"].encode("utf-8"))
                    if size < 1 or size > MAX_CALLBACK_DATA:
                        raise bad_request(BUTTON_DATA_INVALID)
                if not button.get("text"):
                    raise bad_request("can't parse inline keyboard button: text is empty")
    if "keyboard" in markup:
        for row in markup["keyboard"]:
            for button in row:
                if not button.get("text"):
                    raise bad_request("can't parse keyboard button: text is empty")
    return markup


def resolve_reply(
    emu: BotAPIEmulator, chat: Chat, parameters: dict[str, Any] | None
) -> StoredMessage | None:
    """The message ``reply_parameters`` point at (in ``chat`` or another chat)."""
    if not parameters:
        return None
    target_chat = chat
    if "chat_id" in parameters:
        target_chat = emu.require_chat(parameters["chat_id"])
    message = target_chat.messages.get(int(parameters["message_id"]))
    if message is None or message.deleted:
        if parameters.get("allow_sending_without_reply"):
            return None
        raise bad_request("message to be replied not found")
    return message


def content_of(message: StoredMessage) -> dict[str, Any]:
    """The copyable content of a message (text or media + caption)."""
    keys = (
        "text",
        "entities",
        "document",
        "photo",
        "audio",
        "video",
        "voice",
        "animation",
        "sticker",
        "caption",
        "caption_entities",
        "contact",
        "location",
    )
    return {k: message.data[k] for k in keys if k in message.data}


def is_service(message: StoredMessage) -> bool:
    return not any(
        k in message.data
        for k in ("text", "document", "photo", "audio", "video", "voice", "animation", "sticker")
    )
