"""Acting as a Telegram user: send messages, press buttons, share chats, add the bot to groups."""

from __future__ import annotations

import contextlib
import io
import mimetypes
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import EmulatorUsageError
from .html_entities import utf16_len
from .state import (
    ADMIN_RIGHTS,
    GENERAL_TOPIC_ID,
    CallbackAnswer,
    CallbackQuery,
    Chat,
    Draft,
    Member,
    StoredMessage,
    User,
    admin_rights,
)

if TYPE_CHECKING:
    from .server import BotAPIEmulator

ChatRef = Chat | int | None


@dataclass
class Press:
    """What pressing an inline button produced."""

    query: CallbackQuery
    update: dict[str, Any]

    @property
    def query_id(self) -> str:
        return self.query.id

    @property
    def answer(self) -> CallbackAnswer | None:
        """The bot's answerCallbackQuery (None while it has not answered)."""
        return self.query.answer


class UserActor:
    """A Telegram user driven by a test. Create with ``emu.create_user(...)``."""

    def __init__(self, emu: BotAPIEmulator, user: User) -> None:
        self.emu = emu
        self.user = user

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def chat(self) -> Chat:
        """The private chat with the bot."""
        return self.emu.state.private_chat(self.user)

    def __repr__(self) -> str:
        return f"<UserActor {self.user.id} {self.user.first_name!r}>"

    # -- helpers ---------------------------------------------------------------------------------

    def _target(self, chat: ChatRef) -> Chat:
        if chat is None:
            return self.chat
        target = self.emu.chat(chat)
        if target.type != "private" and not target.member(self.user).is_present:
            raise EmulatorUsageError(f"{self} is not a member of chat {target.id}")
        return target

    def _deliver(self, message: StoredMessage) -> dict[str, Any] | None:
        if message.chat_id == self.user.id:
            if self.user.blocked_bot:
                return None  # a blocked bot receives nothing
        elif not self.emu.bot_sees(message):
            return None
        return self.emu.updates.push({"message": message.data})

    def _post(
        self,
        body: dict[str, Any],
        chat: ChatRef,
        thread_id: int | None,
        reply_to: StoredMessage | None,
    ) -> StoredMessage:
        target = self._target(chat)
        if target.type == "private":
            if self.user.blocked_bot:
                self.unblock_bot()  # the app's "Restart" button unblocks, then sends
            self.user.started_bot = True
        if thread_id is not None and target.is_forum and thread_id not in target.topics:
            if thread_id != GENERAL_TOPIC_ID:
                raise EmulatorUsageError(f"no topic {thread_id} in chat {target.id}")
            thread_id = None
        if reply_to is not None and thread_id is None and reply_to.thread_id is not None:
            thread_id = reply_to.thread_id  # a reply stays in the replied message's topic
        message = self.emu.add_message(
            target, self.user, body, thread_id=thread_id, reply_to=reply_to
        )
        if target.type == "supergroup" and reply_to is not None and thread_id is None:
            # A reply outside topics starts a reply thread: Telegram reports its root as
            # message_thread_id (not a forum topic; sending there fails in forums).
            root = reply_to.data.get("message_thread_id", reply_to.message_id)
            message.data["message_thread_id"] = root
        self._deliver(message)
        return message

    # -- messages --------------------------------------------------------------------------------

    async def send_text(
        self,
        text: str,
        *,
        chat: ChatRef = None,
        thread_id: int | None = None,
        reply_to: StoredMessage | None = None,
        entities: list[dict[str, Any]] | None = None,
    ) -> StoredMessage:
        """Send a text message (to the private chat with the bot unless ``chat`` is given).

        A leading ``/command`` gets its ``bot_command`` entity, as Telegram clients send it;
        ``entities`` adds others (mentions, hashtags: offsets in UTF-16 units, as Telegram's).
        """
        body: dict[str, Any] = {"text": text}
        found: list[dict[str, Any]] = []
        if text.startswith("/"):
            command = text.split()[0]
            found.append({"type": "bot_command", "offset": 0, "length": utf16_len(command)})
        found.extend(entities or [])
        if found:
            body["entities"] = sorted(found, key=lambda e: int(e["offset"]))
        return self._post(body, chat, thread_id, reply_to)

    async def edit_text(self, message: StoredMessage, text: str) -> StoredMessage:
        """Edit one of this user's text messages → ``edited_message`` update."""
        current = self.emu.chat(message.chat_id).messages[message.message_id]
        if current.sender_id != self.user.id or current.text is None:
            raise EmulatorUsageError(f"{self} cannot edit {current}")
        current.edits.append(dict(current.data))
        current.data["text"] = text
        current.data.pop("entities", None)
        if text.startswith("/"):
            command = text.split()[0]
            current.data["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_len(command)}
            ]
        current.data["edit_date"] = self.emu.clock.timestamp()
        if current.chat_id != self.user.id and not self.emu.bot_sees(current):
            return current
        self.emu.updates.push({"edited_message": current.data})
        self.emu.notify()
        return current

    async def send_document(
        self,
        content: bytes,
        file_name: str = "file.bin",
        *,
        mime_type: str | None = None,
        caption: str | None = None,
        chat: ChatRef = None,
        thread_id: int | None = None,
    ) -> StoredMessage:
        mime = mime_type or mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        stored = self.emu.state.store_file(content, "document", file_name=file_name, mime_type=mime)
        body: dict[str, Any] = {
            "document": {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_name": file_name,
                "mime_type": mime,
                "file_size": len(content),
            }
        }
        if caption:
            body["caption"] = caption
        return self._post(body, chat, thread_id, None)

    async def send_photo(
        self,
        content: bytes,
        *,
        caption: str | None = None,
        chat: ChatRef = None,
        thread_id: int | None = None,
    ) -> StoredMessage:
        """A photo (``content``: image bytes), as clients send it: one size per stored file."""
        from PIL import Image

        with Image.open(io.BytesIO(content)) as image:
            width, height = image.size
        stored = self.emu.state.store_file(content, "photo", mime_type="image/jpeg")
        size = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(content),
            "width": width,
            "height": height,
        }
        body: dict[str, Any] = {"photo": [size]}
        if caption:
            body["caption"] = caption
        return self._post(body, chat, thread_id, None)

    async def send_sticker(
        self, emoji: str = "👍", *, chat: ChatRef = None, thread_id: int | None = None
    ) -> StoredMessage:
        """A static sticker from some set (its file is a small WebP placeholder)."""
        from .methods_files import sticker_object

        stored = self.emu.state.store_file(b"RIFF\x00\x00\x00\x00WEBP", "sticker")
        body: dict[str, Any] = {"sticker": sticker_object(stored, emoji)}
        return self._post(body, chat, thread_id, None)

    async def press_keyboard(self, text: str) -> StoredMessage:
        """Tap a reply-keyboard button of the bot's current keyboard (sends its text)."""
        keyboard = self.chat.reply_keyboard
        labels = [b["text"] for row in (keyboard or {}).get("keyboard", []) for b in row]
        if text not in labels:
            raise EmulatorUsageError(f"no reply keyboard button {text!r}; buttons: {labels}")
        return await self.send_text(text)

    async def press(
        self,
        message: StoredMessage,
        *,
        text: str | None = None,
        data: str | None = None,
        wait_answer: bool = True,
        timeout: float = 5.0,
    ) -> Press:
        """Press an inline button (by its text or callback_data) → ``callback_query`` update.

        Waits for ``answerCallbackQuery`` unless ``wait_answer=False``; the answer's text and
        ``show_alert`` are in ``Press.answer``.
        """
        current = self.emu.chat(message.chat_id).messages[message.message_id]
        if current.deleted:
            raise EmulatorUsageError(f"{current} was deleted")
        button = current.button(text=text, data=data)
        if "callback_data" not in button:
            raise EmulatorUsageError(f"button {button} has no callback_data")
        emu = self.emu
        query = CallbackQuery(
            id=emu.state.next_query_id(),
            user_id=self.user.id,
            chat_id=current.chat_id,
            message_id=current.message_id,
            data=button["callback_data"],
            created_at=emu.clock.now(),
        )
        emu.state.callback_queries[query.id] = query
        update = (
            emu.updates.push(
                {
                    "callback_query": {
                        "id": query.id,
                        "from": self.user.to_api(),
                        "message": current.data,
                        "chat_instance": str(abs(current.chat_id) * 7 + 1),
                        "data": query.data,
                    }
                }
            )
            or {}
        )
        if wait_answer:
            with contextlib.suppress(TimeoutError):
                await emu.wait_until(
                    lambda: query.answer, timeout, what=f"answerCallbackQuery for {query.data!r}"
                )
        return Press(query, update)

    # -- the bot relationship --------------------------------------------------------------------

    def _my_chat_member(self, chat: Chat, old: Member, new: Member) -> None:
        self.emu.updates.push(
            {
                "my_chat_member": {
                    "chat": chat.to_api(),
                    "from": self.user.to_api(),
                    "date": self.emu.clock.timestamp(),
                    "old_chat_member": old.to_api(),
                    "new_chat_member": new.to_api(),
                }
            }
        )

    def block_bot(self) -> None:
        """Block the bot: sends ``my_chat_member`` (member → kicked); later sends get 403."""
        if self.user.blocked_bot:
            return
        self.user.blocked_bot = True
        bot = self.emu.bot_user
        self._my_chat_member(self.chat, Member(bot, "member"), Member(bot, "kicked"))
        self.emu.notify()

    def unblock_bot(self) -> None:
        if not self.user.blocked_bot:
            return
        self.user.blocked_bot = False
        bot = self.emu.bot_user
        self._my_chat_member(self.chat, Member(bot, "kicked"), Member(bot, "member"))
        self.emu.notify()

    async def add_bot_to_group(
        self,
        group: Chat,
        rights: dict[str, bool] | Any | None = None,
        *,
        start_payload: str | None = None,
    ) -> None:
        """Add the bot (as administrator when ``rights`` are given: a dict of
        ChatAdministratorRights fields or an aiogram ``ChatAdministratorRights``).

        Produces ``my_chat_member`` and the ``new_chat_members`` service message; with
        ``start_payload`` (the ``startgroup`` deep link) also ``/start@bot <payload>``.
        """
        emu = self.emu
        mine = group.member(self.user)
        granted = _rights_dict(rights)
        if granted is not None and not (mine.can("can_promote_members")):
            raise EmulatorUsageError(f"{self} cannot promote members in {group.id}")
        if not mine.is_present:
            raise EmulatorUsageError(f"{self} is not in chat {group.id}")
        bot = emu.bot_user
        old = group.member(bot)
        if granted is not None:
            new = Member(bot, "administrator", granted)
        else:
            new = Member(bot, "member")
        group.members[bot.id] = new
        self._my_chat_member(group, old, new)
        if not old.is_present and group.type != "channel":
            service = emu.add_message(group, self.user, {"new_chat_members": [bot.to_api()]})
            self._deliver(service)
        if start_payload is not None:
            await self.send_text(f"/start@{bot.username} {start_payload}", chat=group)
        emu.notify()

    async def promote_bot(self, group: Chat, rights: dict[str, bool] | Any) -> None:
        """Change the bot's administrator rights (``my_chat_member`` update)."""
        emu = self.emu
        bot = emu.bot_user
        old = group.member(bot)
        if not old.is_present:
            raise EmulatorUsageError("the bot is not in the group")
        new = Member(bot, "administrator", _rights_dict(rights) or {})
        group.members[bot.id] = new
        self._my_chat_member(group, old, new)
        emu.notify()

    async def demote_bot(self, group: Chat) -> None:
        """Take the bot's administrator rights away (``my_chat_member`` → member)."""
        emu = self.emu
        bot = emu.bot_user
        old = group.member(bot)
        if old.status != "administrator":
            raise EmulatorUsageError("the bot is not an administrator")
        new = Member(bot, "member")
        group.members[bot.id] = new
        self._my_chat_member(group, old, new)
        emu.notify()

    async def remove_bot_from_group(self, group: Chat) -> None:
        """Remove the bot: ``my_chat_member`` (→ ``kicked`` in supergroups and channels,
        ``left`` in basic groups) and a ``left_chat_member`` service message."""
        emu = self.emu
        bot = emu.bot_user
        old = group.member(bot)
        if not old.is_present:
            raise EmulatorUsageError("the bot is not in the group")
        new = Member(bot, "left" if group.type == "group" else "kicked")
        group.members[bot.id] = new
        self._my_chat_member(group, old, new)
        if group.type != "channel":
            emu.add_message(group, self.user, {"left_chat_member": bot.to_api()})
        emu.notify()

    async def delete_topic(self, group: Chat, thread_id: int) -> None:
        """Delete a forum topic as its group's creator or an admin does in the app: the topic
        and its messages are gone, bots get no update, and sending into it afterwards fails with
        "message thread not found" (as on Telegram)."""
        member = group.member(self.user)
        if member.status not in ("creator", "administrator"):
            raise EmulatorUsageError("only the group's administrators can delete a topic")
        if thread_id not in group.topics:
            raise EmulatorUsageError(f"no topic {thread_id} in chat {group.id}")
        del group.topics[thread_id]
        for message in group.messages.values():
            if message.thread_id == thread_id:
                message.deleted = True
        group.pinned = [m for m in group.pinned if not group.messages[m].deleted]
        self.emu.notify()

    async def join(self, group: Chat) -> None:
        """Join a group as an ordinary member: ``chat_member`` (when the bot is an
        administrator and allowed_updates asks for it) and the ``new_chat_members`` message."""
        old = group.member(self.user)
        new = Member(self.user, "member")
        group.members[self.user.id] = new
        if self.emu.bot_member(group).status == "administrator":
            self.emu.updates.push(
                {
                    "chat_member": {
                        "chat": group.to_api(),
                        "from": self.user.to_api(),
                        "date": self.emu.clock.timestamp(),
                        "old_chat_member": old.to_api(),
                        "new_chat_member": new.to_api(),
                    }
                }
            )
        if group.type != "channel":
            message = self.emu.add_message(
                group, self.user, {"new_chat_members": [self.user.to_api()]}
            )
            self._deliver(message)

    async def share_chat(self, request_id: int, group: Chat) -> StoredMessage:
        """Pick ``group`` with the bot's ``KeyboardButtonRequestChat`` button ``request_id``.

        Only allowed when the bot's current reply keyboard in the private chat has that button
        and ``group`` meets its criteria. Telegram adds the bot with ``bot_administrator_rights``
        first (``my_chat_member``), then sends the ``chat_shared`` service message.
        """
        keyboard = self.chat.reply_keyboard
        request: dict[str, Any] | None = None
        for row in (keyboard or {}).get("keyboard", []):
            for button in row:
                asked = button.get("request_chat")
                if asked and asked.get("request_id") == request_id:
                    request = asked
        if request is None:
            raise EmulatorUsageError(
                f"the bot's current reply keyboard has no request_chat button {request_id}"
            )
        self._check_criteria(request, group)
        bot_member = group.member(self.emu.bot_user)
        bot_rights = request.get("bot_administrator_rights")
        if bot_rights is not None:
            wanted = {k: v for k, v in bot_rights.items() if v}
            current = bot_member.rights if bot_member.status == "administrator" else {}
            if not bot_member.is_present or any(not current.get(k) for k in wanted):
                merged = {**{k: v for k, v in current.items() if v}, **wanted}
                await self.add_bot_to_group(group, admin_rights(**merged))
        # Without bot_administrator_rights the bot is not added; it only learns the chat id.
        shared: dict[str, Any] = {"request_id": request_id, "chat_id": group.id}
        if request.get("request_title") and group.title:
            shared["title"] = group.title
        if request.get("request_username") and group.username:
            shared["username"] = group.username
        message = self.emu.add_message(self.chat, self.user, {"chat_shared": shared})
        self.user.started_bot = True
        self._deliver(message)
        return message

    def _check_criteria(self, request: dict[str, Any], group: Chat) -> None:
        def refuse(reason: str) -> None:
            raise EmulatorUsageError(f"chat {group.id} cannot be shared: {reason}")

        is_channel = group.type == "channel"
        if bool(request.get("chat_is_channel")) != is_channel:
            refuse("channel/group mismatch")
        if "chat_is_forum" in request and bool(request["chat_is_forum"]) != group.is_forum:
            refuse("forum mismatch")
        if "chat_has_username" in request and bool(request["chat_has_username"]) != bool(
            group.username
        ):
            refuse("username mismatch")
        mine = group.member(self.user)
        if request.get("chat_is_created") and mine.status != "creator":
            refuse("the user is not the creator")
        for right, wanted in (request.get("user_administrator_rights") or {}).items():
            if wanted and not mine.can(right) and right != "is_anonymous":
                refuse(f"the user lacks {right}")
        if request.get("bot_is_member") and not group.member(self.emu.bot_user).is_present:
            refuse("the bot is not a member")

    async def stop_generation(self, draft: Draft | int | None = None) -> dict[str, Any]:
        """Press "stop" on a streamed draft → ``stopped_message_generation`` update.

        Only drafts sent with ``can_stop=True`` have the button. Defaults to the latest draft.
        """
        drafts = self.emu.drafts(self.chat)
        if isinstance(draft, int):
            found = [d for d in drafts if d.draft_id == draft]
        elif isinstance(draft, Draft):
            found = [draft]
        else:
            found = sorted(drafts, key=lambda d: d.updated_at)[-1:]
        if not found:
            raise EmulatorUsageError("no draft to stop")
        target = found[-1]
        if not target.can_stop:
            raise EmulatorUsageError("the draft was not sent with can_stop=True")
        target.stopped = True
        body: dict[str, Any] = {"chat": self.chat.to_api(), "draft_id": target.draft_id}
        if target.thread_id is not None:
            body["message_thread_id"] = target.thread_id
        update = self.emu.updates.push({"stopped_message_generation": body})
        self.emu.notify()
        return update or {}

    # -- reading ---------------------------------------------------------------------------------

    async def wait_reply(
        self, timeout: float = 5.0, *, chat: ChatRef = None, after: StoredMessage | None = None
    ) -> StoredMessage:
        """The bot's first message in the chat after this user's last message (or ``after``)."""
        target = self._target(chat)
        if after is None:
            mine = [m for m in target.messages.values() if m.sender_id == self.user.id]
            after = mine[-1] if mine else None
        return await self.emu.wait_for(lambda m: m.from_bot, timeout, chat=target, since=after)


def _rights_dict(rights: dict[str, bool] | Any | None) -> dict[str, bool] | None:
    if rights is None:
        return None
    if not isinstance(rights, dict):
        rights = rights.model_dump(exclude_none=True)
    return admin_rights(**{k: bool(v) for k, v in rights.items() if k in ADMIN_RIGHTS})
