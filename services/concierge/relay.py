"""Relaying between a user's private chat and the session's topic, always as the bot.

Never a forward: a forward names its sender, so staff would see the user and the user would see
which staff member answered. Into the topic the bot sends the content again (text with its
entities, the photo's or sticker's file id), so not even the call to Telegram names the user's
chat; to the user it copies staff's message (``copyMessage``: the copy comes from the bot).
Text, photos and stickers are relayed; other kinds are refused before anything is charged.
"""

from __future__ import annotations

from typing import Any

from aiogram.types import InlineKeyboardMarkup, Message

from services.concierge.ports import DeskSender


def content_of(message: Message) -> dict[str, Any] | None:
    """What the transcript and the AI drafts keep of a message; None: not relayed."""
    if message.text is not None:
        return {"kind": "text", "text": message.text}
    if message.photo:
        return {"kind": "photo", "text": message.caption or ""}
    if message.sticker is not None:
        return {"kind": "sticker", "text": message.sticker.emoji or ""}
    return None


async def to_topic(
    bot: DeskSender,
    desk_chat: int,
    thread_id: int,
    message: Message,
    markup: InlineKeyboardMarkup,
) -> int:
    if message.text is not None:
        sent = await bot.send_message(
            desk_chat,
            message.text,
            entities=message.entities,
            parse_mode=None,
            message_thread_id=thread_id,
            reply_markup=markup,
        )
    elif message.photo:
        sent = await bot.send_photo(
            desk_chat,
            message.photo[-1].file_id,
            caption=message.caption,
            caption_entities=message.caption_entities,
            parse_mode=None,
            message_thread_id=thread_id,
            reply_markup=markup,
        )
    elif message.sticker is not None:
        sent = await bot.send_sticker(
            desk_chat, message.sticker.file_id, message_thread_id=thread_id, reply_markup=markup
        )
    else:
        raise ValueError("only text, photos and stickers are relayed")
    return sent.message_id


async def to_user(bot: DeskSender, user_id: int, desk_chat: int, message_id: int) -> int:
    copied = await bot.copy_message(user_id, desk_chat, message_id)
    return copied.message_id


async def text_to_user(bot: DeskSender, user_id: int, text: str) -> int:
    # Staff text as typed: no parse mode, so nothing they write is read as markup.
    sent = await bot.send_message(user_id, text, parse_mode=None)
    return sent.message_id
