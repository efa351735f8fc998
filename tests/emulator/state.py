"""The emulator's world: users, chats, members, topics, messages, files and the bot's profile.

Everything is plain dataclasses so tests can read (and, when they must, arrange) state directly.
``to_api()`` methods render Bot API objects exactly as Telegram sends them.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any, Literal

ChatType = Literal["private", "group", "supergroup", "channel"]
MemberStatus = Literal["creator", "administrator", "member", "restricted", "left", "kicked"]

# ChatAdministratorRights, in the order of the Bot API; ``can_send_welcome_messages`` is 10.x.
ADMIN_RIGHTS: tuple[str, ...] = (
    "is_anonymous",
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
    "can_post_messages",
    "can_edit_messages",
    "can_pin_messages",
    "can_manage_topics",
    "can_manage_direct_messages",
    "can_manage_tags",
    "can_send_welcome_messages",
)
_OPTIONAL_RIGHTS = {
    "can_post_messages",
    "can_edit_messages",
    "can_pin_messages",
    "can_manage_topics",
    "can_manage_direct_messages",
    "can_manage_tags",
}
ACCEPTED_GIFT_TYPES = {
    "unlimited_gifts": True,
    "limited_gifts": True,
    "unique_gifts": True,
    "premium_subscription": True,
    "gifts_from_channels": True,
}
TOPIC_COLORS = (7322096, 16766590, 13338331, 9367192, 16749490, 16478047)
GENERAL_TOPIC_ID = 1


def admin_rights(**granted: bool) -> dict[str, bool]:
    """A full ChatAdministratorRights dict: everything False except what is granted."""
    unknown = set(granted) - set(ADMIN_RIGHTS)
    if unknown:
        raise ValueError(f"unknown administrator rights: {sorted(unknown)}")
    rights = dict.fromkeys(ADMIN_RIGHTS, False)
    rights.update(granted)
    return rights


def all_admin_rights() -> dict[str, bool]:
    rights = dict.fromkeys(ADMIN_RIGHTS, True)
    rights["is_anonymous"] = False
    return rights


@dataclass
class User:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False
    is_premium: bool = False
    started_bot: bool = False
    blocked_bot: bool = False

    def to_api(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.last_name:
            data["last_name"] = self.last_name
        if self.username:
            data["username"] = self.username
        if self.language_code and not self.is_bot:
            data["language_code"] = self.language_code
        if self.is_premium:
            data["is_premium"] = True
        return data


@dataclass
class Member:
    user: User
    status: MemberStatus
    rights: dict[str, bool] = field(default_factory=dict)
    custom_title: str | None = None
    until_date: int = 0

    @property
    def is_present(self) -> bool:
        return self.status in ("creator", "administrator", "member", "restricted")

    def can(self, right: str) -> bool:
        if self.status == "creator":
            return True
        return self.status == "administrator" and bool(self.rights.get(right))

    def to_api(self) -> dict[str, Any]:
        data: dict[str, Any] = {"status": self.status, "user": self.user.to_api()}
        if self.status == "creator":
            data["is_anonymous"] = False
            if self.custom_title:
                data["custom_title"] = self.custom_title
        elif self.status == "administrator":
            data["can_be_edited"] = False
            for right in ADMIN_RIGHTS:
                value = bool(self.rights.get(right, False))
                if right in _OPTIONAL_RIGHTS and not value:
                    continue
                data[right] = value
            if self.custom_title:
                data["custom_title"] = self.custom_title
        elif self.status == "kicked":
            data["until_date"] = self.until_date
        elif self.status == "restricted":
            data.update(
                is_member=True,
                can_send_messages=False,
                can_send_audios=False,
                can_send_documents=False,
                can_send_photos=False,
                can_send_videos=False,
                can_send_video_notes=False,
                can_send_voice_notes=False,
                can_send_polls=False,
                can_send_other_messages=False,
                can_add_web_page_previews=False,
                can_change_info=False,
                can_invite_users=False,
                can_pin_messages=False,
                can_manage_topics=False,
                can_react_to_messages=False,
                can_edit_tag=False,
                until_date=self.until_date,
            )
        return data


@dataclass
class Topic:
    thread_id: int
    name: str
    icon_color: int
    icon_custom_emoji_id: str | None = None
    closed: bool = False
    created_by: int | None = None

    def to_api(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "message_thread_id": self.thread_id,
            "name": self.name,
            "icon_color": self.icon_color,
        }
        if self.icon_custom_emoji_id:
            data["icon_custom_emoji_id"] = self.icon_custom_emoji_id
        return data


@dataclass
class StoredMessage:
    """One message as the emulator keeps it. ``data`` is the Bot API ``Message`` object."""

    chat_id: int
    message_id: int
    data: dict[str, Any]
    seq: int
    from_bot: bool
    thread_id: int | None = None
    reply_markup: dict[str, Any] | None = None  # as sent, reply keyboards included
    deleted: bool = False
    edits: list[dict[str, Any]] = field(default_factory=list)  # previous versions of ``data``

    @property
    def date(self) -> int:
        return int(self.data["date"])

    @property
    def text(self) -> str | None:
        value = self.data.get("text")
        return value if isinstance(value, str) else None

    @property
    def caption(self) -> str | None:
        value = self.data.get("caption")
        return value if isinstance(value, str) else None

    @property
    def entities(self) -> list[dict[str, Any]]:
        return list(self.data.get("entities") or self.data.get("caption_entities") or [])

    @property
    def sender_id(self) -> int | None:
        sender = self.data.get("from")
        return int(sender["id"]) if sender else None

    @property
    def document(self) -> dict[str, Any] | None:
        value = self.data.get("document")
        return value if isinstance(value, dict) else None

    @property
    def inline_buttons(self) -> list[dict[str, Any]]:
        """Inline keyboard buttons, row by row, flattened."""
        markup = self.reply_markup or {}
        return [b for row in markup.get("inline_keyboard", []) for b in row]

    @property
    def keyboard_buttons(self) -> list[dict[str, Any]]:
        """Reply keyboard buttons, flattened."""
        markup = self.reply_markup or {}
        return [b for row in markup.get("keyboard", []) for b in row]

    def button(self, *, text: str | None = None, data: str | None = None) -> dict[str, Any]:
        for candidate in self.inline_buttons:
            if text is not None and candidate.get("text") != text:
                continue
            if data is not None and candidate.get("callback_data") != data:
                continue
            return candidate
        labels = [(b.get("text"), b.get("callback_data")) for b in self.inline_buttons]
        raise LookupError(f"no inline button text={text!r} data={data!r}; buttons: {labels}")

    def __repr__(self) -> str:
        body = self.text if self.text is not None else self.caption
        who = "bot" if self.from_bot else self.sender_id
        return f"<Message {self.chat_id}/{self.message_id} from={who} {body!r}>"


@dataclass
class Chat:
    id: int
    type: ChatType
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    is_forum: bool = False
    description: str | None = None
    members: dict[int, Member] = field(default_factory=dict)
    topics: dict[int, Topic] = field(default_factory=dict)
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    pinned: list[int] = field(default_factory=list)  # most recent last
    next_message_id: int = 1
    reply_keyboard: dict[str, Any] | None = None  # last reply keyboard the bot showed
    menu_button: dict[str, Any] | None = None
    general_closed: bool = False
    migrated_to: int | None = None  # a basic group upgraded to this supergroup

    def to_api(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.type == "private":
            data["first_name"] = self.first_name or ""
            if self.last_name:
                data["last_name"] = self.last_name
        else:
            data["title"] = self.title or ""
        if self.username:
            data["username"] = self.username
        if self.is_forum:
            data["is_forum"] = True
        return data

    def to_full_info(self) -> dict[str, Any]:
        data = self.to_api()
        data.update(
            accent_color_id=0,
            max_reaction_count=11,
            accepted_gift_types=dict(ACCEPTED_GIFT_TYPES),
        )
        if self.description:
            data["description" if self.type != "private" else "bio"] = self.description
        if self.pinned:
            pinned = self.messages.get(self.pinned[-1])
            if pinned is not None and not pinned.deleted:
                data["pinned_message"] = pinned.data
        return data

    def member(self, user: User) -> Member:
        return self.members.get(user.id) or Member(user=user, status="left")

    def live_messages(self) -> list[StoredMessage]:
        return [m for m in self.messages.values() if not m.deleted]


@dataclass
class StoredFile:
    file_id: str
    file_unique_id: str
    content: bytes
    file_path: str
    kind: str  # "document", "photo", ...
    file_name: str | None = None
    mime_type: str | None = None

    def to_file(self) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.content),
            "file_path": self.file_path,
        }


@dataclass
class Draft:
    """A streamed draft (sendMessageDraft). Not a message; tests read its history."""

    chat_id: int
    draft_id: int
    thread_id: int | None
    texts: list[str] = field(default_factory=list)
    entities: list[dict[str, Any]] = field(default_factory=list)
    can_stop: bool = False
    keep_on_stop: bool = False
    updated_at: float = 0.0
    stopped: bool = False

    @property
    def text(self) -> str:
        return self.texts[-1] if self.texts else ""


@dataclass
class CallbackAnswer:
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int


@dataclass
class CallbackQuery:
    id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str
    created_at: float
    answer: CallbackAnswer | None = None


@dataclass
class ChatAction:
    chat_id: int
    action: str
    thread_id: int | None
    at: float


@dataclass
class BotProfile:
    """What BotFather-like methods set: commands, descriptions, names, menu button."""

    user: User
    commands: dict[tuple[str, str], list[dict[str, str]]] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)
    short_descriptions: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    default_menu_button: dict[str, Any] | None = None
    default_admin_rights: dict[bool, dict[str, bool]] = field(default_factory=dict)

    def commands_for(
        self, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, str]]:
        return list(self.commands.get((scope_key(scope), language_code), []))


def scope_key(scope: dict[str, Any] | None) -> str:
    return json.dumps(scope or {"type": "default"}, sort_keys=True)


class State:
    """All of the emulator's world. Ids are allocated here so they never collide."""

    def __init__(self, bot: User) -> None:
        self.bot = BotProfile(user=bot)
        self.users: dict[int, User] = {bot.id: bot}
        self.chats: dict[int, Chat] = {}
        self.files: dict[str, StoredFile] = {}
        self.file_paths: dict[str, StoredFile] = {}
        self.drafts: dict[tuple[int, int], Draft] = {}
        self.callback_queries: dict[str, CallbackQuery] = {}
        self.chat_actions: list[ChatAction] = []
        self._user_ids = itertools.count(100_000_001)
        self._group_ids = itertools.count(4_000_001)
        self._supergroup_ids = itertools.count(1_000_000_000_001)
        self._file_ids = itertools.count(1)
        self._seq = itertools.count(1)
        self._query_ids = itertools.count(1)

    # -- ids -------------------------------------------------------------------------------------

    def next_user_id(self) -> int:
        return next(self._user_ids)

    def next_group_id(self) -> int:
        return -next(self._group_ids)

    def next_supergroup_id(self) -> int:
        return -next(self._supergroup_ids)

    def next_seq(self) -> int:
        return next(self._seq)

    def next_query_id(self) -> str:
        return f"{next(self._query_ids):019d}"

    # -- look-ups --------------------------------------------------------------------------------

    def chat_by_ref(self, ref: int | str) -> Chat | None:
        """A chat by id or ``@username`` (as ``chat_id`` accepts)."""
        if isinstance(ref, int):
            return self.chats.get(ref)
        if ref.startswith("@"):
            name = ref[1:].lower()
            for chat in self.chats.values():
                if chat.username and chat.username.lower() == name and chat.type != "private":
                    return chat
            return None
        try:
            return self.chats.get(int(ref))
        except ValueError:
            return None

    def private_chat(self, user: User) -> Chat:
        chat = self.chats.get(user.id)
        if chat is None:
            chat = Chat(
                id=user.id,
                type="private",
                first_name=user.first_name,
                last_name=user.last_name,
                username=user.username,
            )
            self.chats[user.id] = chat
        return chat

    # -- files -----------------------------------------------------------------------------------

    def store_file(
        self,
        content: bytes,
        kind: str,
        *,
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> StoredFile:
        n = next(self._file_ids)
        prefix = {"photo": "AgACAgIAAxkBAA", "document": "BQACAgIAAxkBAA"}.get(kind, "CAACAgIAAx")
        extension = ""
        if file_name and "." in file_name:
            extension = "." + file_name.rsplit(".", 1)[1]
        elif kind == "photo":
            extension = ".jpg"
        folder = {"photo": "photos", "document": "documents"}.get(kind, kind)
        stored = StoredFile(
            file_id=f"{prefix}{n:08d}{abs(hash((n, len(content)))) % 10**12:012d}",
            file_unique_id=f"AQAD{n:08d}",
            content=content,
            file_path=f"{folder}/file_{n}{extension}",
            kind=kind,
            file_name=file_name,
            mime_type=mime_type,
        )
        self.files[stored.file_id] = stored
        self.file_paths[stored.file_path] = stored
        return stored
