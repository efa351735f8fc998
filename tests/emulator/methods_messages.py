"""Sending, editing and deleting messages; callback answers, chat actions and drafts."""

from __future__ import annotations

import copy
from typing import Any

from .errors import NOT_MODIFIED, bad_request
from .messaging import (
    caption_text,
    check_reply_markup,
    content_of,
    is_service,
    message_text,
    parse_formatted,
    resolve_reply,
)
from .registry import Call, registry
from .state import CallbackAnswer, Chat, ChatAction, Draft, StoredMessage

DELETE_WINDOW = 48 * 3600
CALLBACK_QUERY_LIFETIME = 15 * 60
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)


@registry.method("sendMessage")
async def send_message(call: Call) -> dict[str, Any]:
    emu = call.emu
    chat = emu.writable_chat(call.chat_ref())
    thread_id = emu.resolve_thread(chat, call.opt_int("message_thread_id"))
    text, entities = message_text(
        call.get_str("text"), call.opt_str("parse_mode"), call.get_list("entities")
    )
    markup = check_reply_markup(call.get_obj("reply_markup"))
    reply_to = resolve_reply(emu, chat, call.get_obj("reply_parameters"))
    body: dict[str, Any] = {"text": text}
    if entities:
        body["entities"] = entities
    message = emu.add_message(
        chat, emu.bot_user, body, thread_id=thread_id, reply_markup=markup, reply_to=reply_to
    )
    return message.data


def _editable(call: Call, what: str = "edit") -> tuple[Chat, StoredMessage]:
    if call.has("inline_message_id"):
        raise bad_request("MESSAGE_ID_INVALID")
    if not call.has("chat_id"):
        raise bad_request("chat_id is empty")
    if not call.has("message_id"):
        raise bad_request("message identifier is not specified")
    chat = call.emu.require_chat(call.chat_ref())
    call.emu.check_bot_present(chat)
    message = chat.messages.get(call.get_int("message_id"))
    if message is None or message.deleted:
        raise bad_request(f"message to {what} not found")
    if not message.from_bot:
        raise bad_request("message can't be edited")
    return chat, message


def _apply_edit(
    call: Call, message: StoredMessage, changes: dict[str, Any], markup: dict[str, Any] | None
) -> dict[str, Any]:
    message.edits.append(copy.deepcopy(message.data))
    for key, value in changes.items():
        if value:
            message.data[key] = value
        else:
            message.data.pop(key, None)
    if markup:
        message.data["reply_markup"] = markup
    else:
        message.data.pop("reply_markup", None)
    message.reply_markup = markup
    message.data["edit_date"] = call.emu.clock.timestamp()
    call.emu.notify()
    return message.data


@registry.method("editMessageText")
async def edit_message_text(call: Call) -> dict[str, Any]:
    _, message = _editable(call)
    if message.text is None:
        raise bad_request("there is no text in the message to edit")
    text, entities = message_text(
        call.get_str("text"), call.opt_str("parse_mode"), call.get_list("entities")
    )
    markup = check_reply_markup(call.get_obj("reply_markup"))
    if (
        text == message.text
        and entities == message.data.get("entities", [])
        and markup == message.data.get("reply_markup")
    ):
        raise bad_request(NOT_MODIFIED)
    return _apply_edit(call, message, {"text": text, "entities": entities}, markup)


@registry.method("editMessageCaption")
async def edit_message_caption(call: Call) -> dict[str, Any]:
    _, message = _editable(call)
    if message.text is not None or is_service(message):
        raise bad_request("there is no caption in the message to edit")
    body = caption_text(
        call.opt_str("caption"), call.opt_str("parse_mode"), call.get_list("caption_entities")
    )
    markup = check_reply_markup(call.get_obj("reply_markup"))
    current = {k: message.data.get(k) for k in ("caption", "caption_entities")}
    if {k: body.get(k) for k in current} == current and markup == message.data.get("reply_markup"):
        raise bad_request(NOT_MODIFIED)
    changes = {"caption": body.get("caption"), "caption_entities": body.get("caption_entities")}
    return _apply_edit(call, message, changes, markup)


@registry.method("editMessageReplyMarkup")
async def edit_message_reply_markup(call: Call) -> dict[str, Any]:
    _, message = _editable(call)
    markup = check_reply_markup(call.get_obj("reply_markup"))
    if markup == message.data.get("reply_markup"):
        raise bad_request(NOT_MODIFIED)
    return _apply_edit(call, message, {}, markup)


def _delete(call: Call, chat: Chat, message_id: int) -> None:
    emu = call.emu
    message = chat.messages.get(message_id)
    if message is None or message.deleted:
        raise bad_request("message to delete not found")
    if "forum_topic_created" in message.data:
        raise bad_request("message can't be deleted")
    if emu.clock.now() - message.date > DELETE_WINDOW:
        raise bad_request("message can't be deleted for everyone")
    if chat.type != "private" and not message.from_bot:
        member = emu.bot_member(chat)
        allowed = member.can("can_delete_messages") or (
            chat.type == "group" and member.status == "administrator"
        )
        if not allowed:
            raise bad_request("message can't be deleted")
    if chat.type == "channel" and message.from_bot:
        member = emu.bot_member(chat)
        if not (member.can("can_delete_messages") or member.can("can_post_messages")):
            raise bad_request("message can't be deleted")
    message.deleted = True
    if message_id in chat.pinned:
        chat.pinned.remove(message_id)
    emu.notify()


@registry.method("deleteMessage")
async def delete_message(call: Call) -> bool:
    chat = call.emu.require_chat(call.chat_ref())
    call.emu.check_bot_present(chat)
    _delete(call, chat, call.get_int("message_id"))
    return True


@registry.method("deleteMessages")
async def delete_messages(call: Call) -> bool:
    chat = call.emu.require_chat(call.chat_ref())
    call.emu.check_bot_present(chat)
    ids = call.get_list("message_ids") or []
    if not 1 <= len(ids) <= 100:
        raise bad_request("message_ids must contain 1-100 identifiers")
    deleted = 0
    for message_id in ids:
        try:
            _delete(call, chat, int(message_id))
            deleted += 1
        except Exception:  # noqa: BLE001 - Telegram skips what it cannot delete
            continue
    if deleted == 0:
        raise bad_request("message to delete not found")
    return True


def _source(call: Call, what: str) -> StoredMessage:
    emu = call.emu
    source_chat = emu.require_chat(call.chat_ref("from_chat_id"))
    emu.check_bot_present(source_chat)
    message = source_chat.messages.get(call.get_int("message_id"))
    if message is None or message.deleted:
        raise bad_request(f"message to {what} not found")
    if is_service(message):
        raise bad_request(
            f"message can't be {what}ed" if what != "copy" else "message can't be copied"
        )
    return message


@registry.method("copyMessage")
async def copy_message(call: Call) -> dict[str, Any]:
    emu = call.emu
    source = _source(call, "copy")
    chat = emu.writable_chat(call.chat_ref())
    thread_id = emu.resolve_thread(chat, call.opt_int("message_thread_id"))
    body = content_of(source)
    if call.has("caption") and "text" not in body:
        body.pop("caption", None)
        body.pop("caption_entities", None)
        body.update(
            caption_text(
                call.opt_str("caption"),
                call.opt_str("parse_mode"),
                call.get_list("caption_entities"),
            )
        )
    markup = check_reply_markup(call.get_obj("reply_markup"))
    reply_to = resolve_reply(emu, chat, call.get_obj("reply_parameters"))
    copied = emu.add_message(
        chat, emu.bot_user, body, thread_id=thread_id, reply_markup=markup, reply_to=reply_to
    )
    return {"message_id": copied.message_id}


@registry.method("forwardMessage")
async def forward_message(call: Call) -> dict[str, Any]:
    emu = call.emu
    source = _source(call, "forward")
    chat = emu.writable_chat(call.chat_ref())
    thread_id = emu.resolve_thread(chat, call.opt_int("message_thread_id"))
    body = content_of(source)
    source_chat = emu.chat(source.chat_id)
    if source_chat.type in ("private", "group") or "from" in source.data:
        origin: dict[str, Any] = {
            "type": "user",
            "date": source.date,
            "sender_user": source.data["from"],
        }
    else:
        origin = {
            "type": "channel" if source_chat.type == "channel" else "chat",
            "date": source.date,
            ("chat" if source_chat.type == "channel" else "sender_chat"): source_chat.to_api(),
        }
        if source_chat.type == "channel":
            origin["message_id"] = source.message_id
    body["forward_origin"] = origin
    forwarded = emu.add_message(chat, emu.bot_user, body, thread_id=thread_id)
    return forwarded.data


@registry.method("answerCallbackQuery")
async def answer_callback_query(call: Call) -> bool:
    emu = call.emu
    query = emu.state.callback_queries.get(call.get_str("callback_query_id"))
    too_old = "query is too old and response timeout expired or query ID is invalid"
    if query is None or query.answer is not None:
        raise bad_request(too_old)
    if emu.clock.now() - query.created_at > CALLBACK_QUERY_LIFETIME:
        raise bad_request(too_old)
    text = call.opt_str("text")
    if text is not None and len(text) > 200:
        raise bad_request("MESSAGE_TOO_LONG")
    query.answer = CallbackAnswer(
        text=text,
        show_alert=call.flag("show_alert"),
        url=call.opt_str("url"),
        cache_time=call.opt_int("cache_time") or 0,
    )
    emu.notify()
    return True


@registry.method("sendChatAction")
async def send_chat_action(call: Call) -> bool:
    emu = call.emu
    chat = emu.writable_chat(call.chat_ref())
    thread_id = emu.resolve_thread(chat, call.opt_int("message_thread_id"))
    action = call.get_str("action")
    if action not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    emu.state.chat_actions.append(ChatAction(chat.id, action, thread_id, emu.clock.now()))
    emu.notify()
    return True


@registry.method("sendMessageDraft")
async def send_message_draft(call: Call) -> bool:
    emu = call.emu
    chat = emu.require_chat(call.get_int("chat_id"))
    if chat.type != "private":
        raise bad_request("TEXTDRAFT_PEER_INVALID")
    emu.check_bot_present(chat)
    draft_id = call.get_int("draft_id")
    if draft_id == 0:
        raise bad_request("DRAFT_ID_INVALID")
    text, entities = "", list[dict[str, Any]]()
    raw_text = call.opt_str("text")
    if raw_text:
        text, entities = message_text(
            raw_text, call.opt_str("parse_mode"), call.get_list("entities")
        )
    elif raw_text is not None:
        text, entities = parse_formatted(raw_text, None, None)
    key = (chat.id, draft_id)
    draft = emu.state.drafts.get(key)
    if draft is None:
        draft = Draft(chat.id, draft_id, call.opt_int("message_thread_id"))
        emu.state.drafts[key] = draft
    draft.texts.append(text)
    draft.entities = entities
    draft.can_stop = call.flag("can_stop")
    draft.keep_on_stop = call.flag("keep_on_stop")
    draft.updated_at = emu.clock.now()
    emu.notify()
    return True
