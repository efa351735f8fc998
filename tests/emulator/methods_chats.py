"""Chats, members, pins and forum topics."""

from __future__ import annotations

from typing import Any

from .errors import bad_request
from .registry import Call, registry
from .state import GENERAL_TOPIC_ID, TOPIC_COLORS, Chat, Member, Topic

MAX_TOPIC_NAME = 128


@registry.method("getChat")
async def get_chat(call: Call) -> dict[str, Any]:
    chat = call.emu.require_chat(call.chat_ref())
    if chat.type != "private":
        call.emu.check_bot_present(chat)
    return chat.to_full_info()


def _user_in(call: Call, chat: Chat) -> Member:
    user = call.emu.state.users.get(call.get_int("user_id"))
    if user is None:
        raise bad_request("PARTICIPANT_ID_INVALID")
    if chat.type == "private":
        if user.id not in (chat.id, call.emu.bot_user.id):
            raise bad_request("user not found")
        return Member(user, "member")
    return chat.member(user)


@registry.method("getChatMember")
async def get_chat_member(call: Call) -> dict[str, Any]:
    chat = call.emu.require_chat(call.chat_ref())
    call.emu.check_bot_present(chat)
    return _user_in(call, chat).to_api()


@registry.method("getChatAdministrators")
async def get_chat_administrators(call: Call) -> list[dict[str, Any]]:
    chat = call.emu.require_chat(call.chat_ref())
    if chat.type == "private":
        raise bad_request("there are no administrators in the private chat")
    call.emu.check_bot_present(chat)
    return [m.to_api() for m in chat.members.values() if m.status in ("creator", "administrator")]


@registry.method("getChatMemberCount")
async def get_chat_member_count(call: Call) -> int:
    chat = call.emu.require_chat(call.chat_ref())
    if chat.type == "private":
        return 2
    call.emu.check_bot_present(chat)
    return sum(1 for m in chat.members.values() if m.is_present)


@registry.method("leaveChat")
async def leave_chat(call: Call) -> bool:
    emu = call.emu
    chat = emu.require_chat(call.chat_ref())
    if chat.type == "private":
        raise bad_request("chat member status can't be changed in private chats")
    emu.check_bot_present(chat)
    old = emu.bot_member(chat)
    new = Member(emu.bot_user, "left")
    chat.members[emu.bot_user.id] = new
    emu.updates.push(
        {
            "my_chat_member": {
                "chat": chat.to_api(),
                "from": emu.bot_user.to_api(),
                "date": emu.clock.timestamp(),
                "old_chat_member": old.to_api(),
                "new_chat_member": new.to_api(),
            }
        }
    )
    emu.notify()
    return True


# -- pins ----------------------------------------------------------------------------------------


def _pin_rights(call: Call, chat: Chat) -> None:
    call.emu.check_bot_present(chat)
    if chat.type == "private":
        return
    member = call.emu.bot_member(chat)
    right = "can_edit_messages" if chat.type == "channel" else "can_pin_messages"
    if not member.can(right):
        raise bad_request("not enough rights to manage pinned messages in the chat")


@registry.method("pinChatMessage")
async def pin_chat_message(call: Call) -> bool:
    emu = call.emu
    chat = emu.require_chat(call.chat_ref())
    _pin_rights(call, chat)
    message_id = call.get_int("message_id")
    message = chat.messages.get(message_id)
    if message is None or message.deleted:
        raise bad_request("message to pin not found")
    if message_id in chat.pinned:
        chat.pinned.remove(message_id)
    chat.pinned.append(message_id)
    if chat.type in ("group", "supergroup") and not call.flag("disable_notification"):
        pinned = dict(message.data)
        pinned.pop("reply_to_message", None)
        emu.add_message(chat, emu.bot_user, {"pinned_message": pinned}, thread_id=message.thread_id)
    emu.notify()
    return True


@registry.method("unpinChatMessage")
async def unpin_chat_message(call: Call) -> bool:
    chat = call.emu.require_chat(call.chat_ref())
    _pin_rights(call, chat)
    if call.has("message_id"):
        message_id = call.get_int("message_id")
        if message_id not in chat.pinned:
            raise bad_request("message to unpin not found")
        chat.pinned.remove(message_id)
    elif chat.pinned:
        chat.pinned.pop()
    else:
        raise bad_request("message to unpin not found")
    call.emu.notify()
    return True


@registry.method("unpinAllChatMessages")
async def unpin_all_chat_messages(call: Call) -> bool:
    chat = call.emu.require_chat(call.chat_ref())
    _pin_rights(call, chat)
    chat.pinned.clear()
    call.emu.notify()
    return True


# -- forum topics --------------------------------------------------------------------------------


def _forum(call: Call, right: str = "can_manage_topics") -> Chat:
    chat = call.emu.require_chat(call.chat_ref())
    call.emu.check_bot_present(chat)
    if not chat.is_forum:
        raise bad_request("the chat is not a forum")
    if right and not call.emu.bot_member(chat).can(right):
        raise bad_request("not enough rights to manage topics")
    return chat


def _topic_name(name: str) -> str:
    if not name.strip():
        raise bad_request("TOPIC_TITLE_EMPTY")
    if len(name) > MAX_TOPIC_NAME:
        raise bad_request("TOPIC_TITLE_TOO_LONG")
    return name


def _topic(call: Call, chat: Chat) -> Topic:
    topic = chat.topics.get(call.get_int("message_thread_id"))
    if topic is None:
        raise bad_request("TOPIC_ID_INVALID")
    return topic


@registry.method("createForumTopic")
async def create_forum_topic(call: Call) -> dict[str, Any]:
    emu = call.emu
    chat = emu.require_chat(call.chat_ref())
    emu.check_bot_present(chat)
    if not chat.is_forum:
        raise bad_request("the chat is not a forum")
    if not emu.bot_member(chat).can("can_manage_topics"):
        raise bad_request("not enough rights to create a topic")
    name = _topic_name(call.get_str("name"))
    color = call.opt_int("icon_color") or TOPIC_COLORS[0]
    if color not in TOPIC_COLORS:
        raise bad_request("TOPIC_ICON_COLOR_INVALID")
    thread_id = chat.next_message_id
    topic = Topic(
        thread_id=thread_id,
        name=name,
        icon_color=color,
        icon_custom_emoji_id=call.opt_str("icon_custom_emoji_id"),
        created_by=emu.bot_user.id,
    )
    chat.topics[thread_id] = topic
    created: dict[str, Any] = {"name": name, "icon_color": color}
    if topic.icon_custom_emoji_id:
        created["icon_custom_emoji_id"] = topic.icon_custom_emoji_id
    service = emu.add_message(
        chat, emu.bot_user, {"forum_topic_created": created}, thread_id=thread_id
    )
    service.data.pop("reply_to_message", None)
    return topic.to_api()


@registry.method("editForumTopic")
async def edit_forum_topic(call: Call) -> bool:
    emu = call.emu
    chat = _forum(call, right="")
    topic = _topic(call, chat)
    if topic.created_by != emu.bot_user.id and not emu.bot_member(chat).can("can_manage_topics"):
        raise bad_request("not enough rights to edit a topic")
    edited: dict[str, Any] = {}
    if call.has("name"):
        topic.name = edited["name"] = _topic_name(call.get_str("name"))
    if call.has("icon_custom_emoji_id"):
        emoji = call.get_str("icon_custom_emoji_id")
        topic.icon_custom_emoji_id = emoji or None
        edited["icon_custom_emoji_id"] = emoji
    if not edited:
        raise bad_request("TOPIC_NOT_MODIFIED")
    emu.add_message(chat, emu.bot_user, {"forum_topic_edited": edited}, thread_id=topic.thread_id)
    return True


def _set_closed(call: Call, closed: bool) -> bool:
    emu = call.emu
    chat = _forum(call, right="")
    topic = _topic(call, chat)
    if topic.created_by != emu.bot_user.id and not emu.bot_member(chat).can("can_manage_topics"):
        raise bad_request("not enough rights to manage topics")
    if topic.closed == closed:
        raise bad_request("TOPIC_NOT_MODIFIED")
    topic.closed = closed
    key = "forum_topic_closed" if closed else "forum_topic_reopened"
    emu.add_message(chat, emu.bot_user, {key: {}}, thread_id=topic.thread_id)
    return True


@registry.method("closeForumTopic")
async def close_forum_topic(call: Call) -> bool:
    return _set_closed(call, True)


@registry.method("reopenForumTopic")
async def reopen_forum_topic(call: Call) -> bool:
    return _set_closed(call, False)


@registry.method("deleteForumTopic")
async def delete_forum_topic(call: Call) -> bool:
    emu = call.emu
    chat = _forum(call, right="")
    topic = _topic(call, chat)
    member = emu.bot_member(chat)
    if not (member.can("can_delete_messages") or member.can("can_manage_topics")):
        raise bad_request("not enough rights to delete a topic")
    del chat.topics[topic.thread_id]
    for message in chat.messages.values():
        if message.thread_id == topic.thread_id:
            message.deleted = True
    chat.pinned = [m for m in chat.pinned if not chat.messages[m].deleted]
    emu.notify()
    return True


@registry.method("editGeneralForumTopic")
async def edit_general_forum_topic(call: Call) -> bool:
    _forum(call)
    _topic_name(call.get_str("name"))
    return True


@registry.method("closeGeneralForumTopic")
async def close_general_forum_topic(call: Call) -> bool:
    chat = _forum(call)
    chat.general_closed = True
    return True


@registry.method("reopenGeneralForumTopic")
async def reopen_general_forum_topic(call: Call) -> bool:
    chat = _forum(call)
    chat.general_closed = False
    return True


@registry.method("unpinAllForumTopicMessages")
async def unpin_all_forum_topic_messages(call: Call) -> bool:
    chat = _forum(call, right="can_pin_messages")
    thread_id = call.get_int("message_thread_id")
    if thread_id != GENERAL_TOPIC_ID:
        _topic(call, chat)
    chat.pinned = [m for m in chat.pinned if chat.messages[m].thread_id != thread_id]
    return True
