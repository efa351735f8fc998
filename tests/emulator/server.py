"""The Bot API emulator: an aiohttp server that answers like ``api.telegram.org``.

Usage (see README.md)::

    async with BotAPIEmulator() as emu:
        bot = emu.make_bot()                       # a real aiogram Bot pointed at the emulator
        user = emu.create_user(first_name="Aiko", language_code="ja")
        await user.send_text("/start")
        reply = await user.wait_reply()
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import logging
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web
from multidict import MultiDictProxy

from .clock import Clock
from .errors import (
    BLOCKED,
    CANT_INITIATE,
    CHAT_NOT_FOUND,
    THREAD_NOT_FOUND,
    EmulatorUsageError,
    TelegramError,
    bad_request,
    forbidden,
    not_found,
    server_error,
    too_many_requests,
    unauthorized,
)
from .limits import COUNTED_METHODS, FaultInjector, FloodLimits
from .registry import Call, Handler, registry
from .schema import BotApiSchema, UploadedFile, load_schema
from .state import (
    Chat,
    ChatType,
    Draft,
    Member,
    State,
    StoredMessage,
    User,
    all_admin_rights,
)
from .updates import UpdateQueue

if TYPE_CHECKING:
    from aiogram import Bot

    from .actors import UserActor

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_TOKEN = "7000000001:AAE-libral-emulator-test-token_0123456789"


@dataclass
class CallRecord:
    """One request the bot made, as answered (``emu.calls``)."""

    method: str
    params: dict[str, Any]
    ok: bool
    result: Any = None
    error_code: int | None = None
    description: str | None = None
    retry_after: int | None = None
    fault: str | None = None
    at: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    done: bool = False  # False while the request is still being answered (a long poll, a hold)


def _load_method_modules() -> None:
    package = __name__.rsplit(".", 1)[0]
    path = __file__.rsplit("/", 1)[0]
    for module in pkgutil.iter_modules([path]):
        if module.name.startswith("methods_"):
            importlib.import_module(f"{package}.{module.name}")


class BotAPIEmulator:
    """The Telegram Bot API, for tests. See the module docstring and README.md."""

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        bot_username: str = "libral_test_bot",
        bot_first_name: str = "Libral",
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
        privacy_mode: bool = True,
    ) -> None:
        _load_method_modules()
        self.token = token
        self.host = host
        self.port = port
        self.privacy_mode = privacy_mode
        self.clock = Clock()
        bot_id = int(token.split(":", 1)[0])
        self.state = State(
            User(id=bot_id, first_name=bot_first_name, username=bot_username, is_bot=True)
        )
        self.schema: BotApiSchema = load_schema()
        self.methods = registry.copy()
        self.updates = UpdateQueue(self.clock)
        self.updates.on_webhook_reply = self._execute_webhook_reply
        self.updates.on_change = self.notify
        self.updates.validate = lambda update: self.schema.object_errors("Update", update)
        self.limits = FloodLimits(self.clock)
        self.faults = FaultInjector(seed)
        self.calls: list[CallRecord] = []  # answered calls, in the order of their answers
        self.requests: list[CallRecord] = []  # every request as it arrives (answered or not)
        self.internal_errors: list[str] = []  # emulator bugs; the fixture fails the test on them
        self._waiters: set[asyncio.Event] = set()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self.base_url = f"http://{self.host}:{self.port}"

    async def close(self) -> None:
        self._closing.set()
        self.updates.wake_pollers()
        await self.updates.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> BotAPIEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def bot_user(self) -> User:
        return self.state.bot.user

    @property
    def api_url(self) -> str:
        """``{base_url}/bot{token}`` — what ``TELEGRAM_API_URL``-style settings need."""
        return f"{self.base_url}/bot{self.token}"

    def make_bot(self, **session_kwargs: Any) -> Bot:
        """A real aiogram ``Bot`` talking to this emulator (``session_kwargs`` go to
        ``AiohttpSession``, e.g. ``timeout=2``)."""
        from aiogram import Bot
        from aiogram.client.session.aiohttp import AiohttpSession
        from aiogram.client.telegram import TelegramAPIServer

        session = AiohttpSession(api=TelegramAPIServer.from_base(self.base_url), **session_kwargs)
        return Bot(self.token, session=session)

    # -- HTTP ------------------------------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _json(unauthorized().envelope(), 401)
        name = request.match_info["method"]
        method = self.schema.canonical_method(name)
        if method is None:
            return _json(not_found().envelope(), 404)
        try:
            raw, files = await _read_params(request, self.schema.methods[method])
        except ValueError:
            return _json(bad_request("can't parse request body").envelope(), 400)
        return await self._dispatch(method, raw, files)

    async def _dispatch(
        self, method: str, raw: dict[str, Any], files: dict[str, UploadedFile]
    ) -> web.Response:
        record = CallRecord(method=method, params=_loggable(raw), ok=False, at=self.clock.now())
        self.requests.append(record)
        self.notify()
        fault = self.faults.decide(method, _chat_id_of(raw))
        if fault is not None:
            record.fault = fault.kind if fault.kind != "error" else f"error {fault.code}"
        if fault is not None and fault.kind == "error":
            if fault.code == 429:
                return self._finish(record, too_many_requests(fault.retry_after))
            return self._finish(record, server_error(fault.code))
        if fault is not None and fault.kind == "timeout":
            await self._hold(fault.delay)  # the client gives up; nothing was done
            return self._finish(record, server_error(504))
        try:
            result = await self.execute(method, raw, files, record=record)
            self._check_result(method, result)
        except TelegramError as error:
            if fault is not None:
                await self._hold(fault.delay)
            return self._finish(record, error)
        except Exception as exc:  # an emulator bug: make it loud, keep the envelope
            log.exception("emulator failed in %s", method)
            self.internal_errors.append(f"{method}: {type(exc).__name__}: {exc}")
            return self._finish(record, TelegramError(500, f"Internal Server Error: {exc}"))
        if fault is not None:
            await self._hold(fault.delay)
        record.ok = True
        record.result = result
        record.done = True
        self.calls.append(record)
        self.notify()
        return _json({"ok": True, "result": result}, 200)

    def _check_result(self, method: str, result: Any) -> None:
        """Messages the emulator returns must be valid Bot API objects (catches emulator bugs,
        including in new ``methods_*`` modules, that aiogram's lenient parsing would hide)."""
        if isinstance(result, dict) and {"message_id", "chat", "date"} <= result.keys():
            errors = self.schema.object_errors("Message", result)
            if errors:
                raise AssertionError(
                    f"emulator bug: {method} returned an invalid Message: {errors}"
                )

    def _finish(self, record: CallRecord, error: TelegramError) -> web.Response:
        record.error_code = error.error_code
        record.description = error.description
        if error.parameters:
            record.retry_after = error.parameters.get("retry_after")
        record.done = True
        self.calls.append(record)
        self.notify()
        return _json(error.envelope(), error.error_code)

    async def _hold(self, delay: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), delay)

    async def execute(
        self,
        method: str,
        raw: dict[str, Any],
        files: dict[str, UploadedFile] | None = None,
        *,
        record: CallRecord | None = None,
    ) -> Any:
        """Check and run one method (no HTTP, no fault injection). Raises TelegramError."""
        handler = self.methods.get(method)
        if handler is None:
            raise not_found(f"Not Found: method {method} is not implemented by the emulator")
        params = self.schema.check_params(method, raw, files or {})
        if record is not None:
            record.params = _loggable(params)
        counted = None
        if method in COUNTED_METHODS and "chat_id" in params:
            counted = self.state.chat_by_ref(params["chat_id"])
            if counted is not None:
                retry_after = self.limits.check(counted.id, private=counted.type == "private")
                if retry_after is not None:
                    raise too_many_requests(retry_after)
        result = await handler(Call(self, method, params))
        if counted is not None:
            self.limits.record(counted.id, private=counted.type == "private")
        return result

    async def _execute_webhook_reply(
        self, method: str, raw: dict[str, Any], files: dict[str, UploadedFile]
    ) -> None:
        canonical = self.schema.canonical_method(method)
        if canonical is None:
            return
        record = CallRecord(
            method=canonical,
            params=_loggable(raw),
            ok=False,
            at=self.clock.now(),
            extra={"via": "webhook reply"},
        )
        self.requests.append(record)
        try:
            record.result = await self.execute(canonical, raw, files, record=record)
            record.ok = True
            record.done = True
            self.calls.append(record)
            self.notify()
        except TelegramError as error:
            self._finish(record, error)

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return _json(unauthorized().envelope(), 401)
        stored = self.state.file_paths.get(request.match_info["path"])
        if stored is None:
            return _json(not_found().envelope(), 404)
        return web.Response(
            body=stored.content, content_type=stored.mime_type or "application/octet-stream"
        )

    def override_method(self, name: str, handler: Handler) -> None:
        """Replace one method's handler for this emulator only."""
        self.methods.override(name, handler)

    # -- world building (test-facing) ------------------------------------------------------------

    def create_user(
        self,
        first_name: str = "Test",
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        is_premium: bool = False,
        user_id: int | None = None,
        started_bot: bool = False,
    ) -> UserActor:
        """A Telegram user. ``started_bot=True``: as if they had pressed Start earlier, so the
        bot may write to them (otherwise 403 "bot can't initiate conversation with a user")."""
        from .actors import UserActor

        user = User(
            id=user_id or self.state.next_user_id(),
            first_name=first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
            is_premium=is_premium,
            started_bot=started_bot,
        )
        self.state.users[user.id] = user
        self.state.private_chat(user)
        return UserActor(self, user)

    def _create_chat(
        self,
        chat_type: ChatType,
        owner: UserActor | User,
        title: str,
        *,
        is_forum: bool = False,
        username: str | None = None,
        members: list[UserActor | User] | None = None,
    ) -> Chat:
        if chat_type == "group":
            chat_id = self.state.next_group_id()
        else:
            chat_id = self.state.next_supergroup_id()
        chat = Chat(id=chat_id, type=chat_type, title=title, username=username, is_forum=is_forum)
        owner_user = _as_user(owner)
        chat.members[owner_user.id] = Member(owner_user, "creator", all_admin_rights())
        for member in members or []:
            user = _as_user(member)
            chat.members[user.id] = Member(user, "member")
        self.state.chats[chat_id] = chat
        return chat

    def create_group(self, owner: UserActor | User, title: str = "Group", **kw: Any) -> Chat:
        return self._create_chat("group", owner, title, **kw)

    def create_supergroup(
        self,
        owner: UserActor | User,
        title: str = "Supergroup",
        *,
        is_forum: bool = False,
        **kw: Any,
    ) -> Chat:
        return self._create_chat("supergroup", owner, title, is_forum=is_forum, **kw)

    def create_channel(self, owner: UserActor | User, title: str = "Channel", **kw: Any) -> Chat:
        return self._create_chat("channel", owner, title, **kw)

    def upgrade_to_supergroup(self, group: Chat, *, is_forum: bool = False) -> Chat:
        """Telegram upgrades a basic group (e.g. when topics are turned on): a new supergroup
        with a new id takes its members; the old id answers 400 with ``migrate_to_chat_id``.
        The bot, if present, gets ``migrate_to_chat_id`` / ``migrate_from_chat_id`` messages."""
        if group.type != "group":
            raise EmulatorUsageError("only basic groups are upgraded")
        new = Chat(
            id=self.state.next_supergroup_id(),
            type="supergroup",
            title=group.title,
            is_forum=is_forum,
            members=dict(group.members),
        )
        self.state.chats[new.id] = new
        owner = next(m.user for m in group.members.values() if m.status == "creator")
        bot_present = self.bot_member(group).is_present
        old_notice = self.add_message(group, owner, {"migrate_to_chat_id": new.id})
        new_notice = self.add_message(new, owner, {"migrate_from_chat_id": group.id})
        group.migrated_to = new.id
        if bot_present:
            self.updates.push({"message": old_notice.data})
            self.updates.push({"message": new_notice.data})
        self.notify()
        return new

    def set_forum(self, group: Chat, is_forum: bool = True) -> None:
        """Turn topics on or off in a supergroup (the owner's switch in the app)."""
        if group.type != "supergroup":
            raise EmulatorUsageError("only supergroups have topics; upgrade_to_supergroup first")
        group.is_forum = is_forum
        self.notify()

    # -- reading (test-facing) -------------------------------------------------------------------

    def chat(self, chat: int | Chat) -> Chat:
        chat_id = chat.id if isinstance(chat, Chat) else chat
        return self.state.chats[chat_id]

    def messages(
        self,
        chat: int | Chat,
        thread_id: int | None = None,
        *,
        include_deleted: bool = False,
        from_bot: bool | None = None,
    ) -> list[StoredMessage]:
        """Messages of a chat in order; ``thread_id`` narrows to one forum topic (None: all)."""
        found = self.chat(chat).messages.values()
        return [
            m
            for m in found
            if (include_deleted or not m.deleted)
            and (thread_id is None or m.thread_id == thread_id)
            and (from_bot is None or m.from_bot == from_bot)
        ]

    def last_message(
        self, chat: int | Chat, thread_id: int | None = None, *, from_bot: bool | None = None
    ) -> StoredMessage | None:
        found = self.messages(chat, thread_id, from_bot=from_bot)
        return found[-1] if found else None

    def all_messages(self) -> list[StoredMessage]:
        every = [m for c in self.state.chats.values() for m in c.messages.values()]
        return sorted(every, key=lambda m: m.seq)

    def drafts(self, chat: int | Chat) -> list[Draft]:
        chat_id = chat.id if isinstance(chat, Chat) else chat
        return [d for (c, _), d in self.state.drafts.items() if c == chat_id]

    def calls_to(self, method: str, *, ok: bool | None = None) -> list[CallRecord]:
        return [c for c in self.calls if c.method == method and (ok is None or c.ok == ok)]

    def errors(self, error_code: int | None = None) -> list[CallRecord]:
        return [
            c for c in self.calls if not c.ok and (error_code is None or c.error_code == error_code)
        ]

    # -- waiting (test-facing) -------------------------------------------------------------------

    def notify(self) -> None:
        """Wake everything waiting in ``wait_until``/``wait_for`` (state changed)."""
        for event in self._waiters:
            event.set()

    async def wait_until(
        self, condition: Callable[[], T | None], timeout: float = 5.0, what: str = "condition"
    ) -> T:
        """Wait until ``condition()`` returns something other than None/False; returns it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = condition()
            if result is not None and result is not False:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                recent = self.all_messages()[-5:]
                calls = [(c.method, c.ok, c.description) for c in self.calls[-5:]]
                raise TimeoutError(
                    f"{what} not met within {timeout}s; recent messages {recent}; "
                    f"recent calls {calls}"
                )
            event = asyncio.Event()
            self._waiters.add(event)
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), remaining)
            finally:
                self._waiters.discard(event)

    async def wait_for(
        self,
        predicate: Callable[[StoredMessage], bool],
        timeout: float = 5.0,
        *,
        chat: int | Chat | None = None,
        since: StoredMessage | None = None,
    ) -> StoredMessage:
        """The first message (in order, existing or future) matching ``predicate``;
        ``since`` skips messages recorded up to and including that one."""
        after = since.seq if since is not None else 0
        chat_id = chat.id if isinstance(chat, Chat) else chat

        def find() -> StoredMessage | None:
            for message in self.all_messages():
                if message.seq <= after or message.deleted:
                    continue
                if chat_id is not None and message.chat_id != chat_id:
                    continue
                if predicate(message):
                    return message
            return None

        return await self.wait_until(find, timeout, what="wait_for(predicate)")

    async def wait_for_call(
        self, method: str, timeout: float = 5.0, *, count: int = 1, answered: bool = False
    ) -> CallRecord:
        """Wait until the bot has sent its ``count``-th ``method`` request; returns its record.

        The record may still be unanswered (a long poll): ``record.done`` tells, and it is filled
        in when the answer goes out. ``answered=True`` waits for the answer too.
        """

        def find() -> CallRecord | None:
            found = [r for r in self.requests if r.method == method]
            if len(found) < count:
                return None
            record = found[count - 1]
            return record if record.done or not answered else None

        return await self.wait_until(find, timeout, what=f"{count} call(s) to {method}")

    # -- helpers for method handlers -------------------------------------------------------------

    def require_chat(self, ref: int | str) -> Chat:
        chat = self.state.chat_by_ref(ref)
        if chat is None:
            raise bad_request(CHAT_NOT_FOUND)
        if chat.migrated_to is not None:
            raise TelegramError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                {"migrate_to_chat_id": chat.migrated_to},
            )
        return chat

    def bot_member(self, chat: Chat) -> Member:
        return chat.member(self.bot_user)

    def check_bot_present(self, chat: Chat) -> None:
        """Raise Telegram's 403 when the bot cannot act in ``chat``."""
        if chat.type == "private":
            user = self.state.users.get(chat.id)
            if user is None:
                raise bad_request(CHAT_NOT_FOUND)
            if user.blocked_bot:
                raise forbidden(BLOCKED)
            if not user.started_bot:
                raise forbidden(CANT_INITIATE)
            return
        kind = {"group": "group chat", "supergroup": "supergroup chat"}.get(
            chat.type, "channel chat"
        )
        member = self.bot_member(chat)
        if member.status == "kicked":
            raise forbidden(f"bot was kicked from the {kind}")
        if not member.is_present:
            raise forbidden(f"bot is not a member of the {kind}")

    def writable_chat(self, ref: int | str) -> Chat:
        chat = self.require_chat(ref)
        self.check_bot_present(chat)
        if chat.type == "channel" and not self.bot_member(chat).can("can_post_messages"):
            raise bad_request("need administrator rights in the channel chat")
        return chat

    def resolve_thread(self, chat: Chat, thread_id: int | None) -> int | None:
        """Validate ``message_thread_id`` for sending; returns the thread id to store."""
        if thread_id is None:
            if (
                chat.is_forum
                and chat.general_closed
                and not self.bot_member(chat).can("can_manage_topics")
            ):
                raise bad_request("TOPIC_CLOSED")
            return None
        if chat.is_forum:
            # As on Telegram, General (id 1) cannot be addressed by message_thread_id: messages
            # go there by leaving it out.
            topic = chat.topics.get(thread_id)
            if topic is None:
                raise bad_request(THREAD_NOT_FOUND)
            if topic.closed and not self.bot_member(chat).can("can_manage_topics"):
                raise bad_request("TOPIC_CLOSED")
            return thread_id
        if chat.type in ("group", "supergroup"):
            root = chat.messages.get(thread_id)
            if root is None or root.deleted:
                raise bad_request(THREAD_NOT_FOUND)
            return thread_id
        raise bad_request(THREAD_NOT_FOUND)

    def add_message(
        self,
        chat: Chat,
        sender: User,
        body: dict[str, Any],
        *,
        thread_id: int | None = None,
        reply_markup: dict[str, Any] | None = None,
        reply_to: StoredMessage | None = None,
    ) -> StoredMessage:
        """Store a new message in ``chat`` (sent by the bot or a user) and return it."""
        message_id = chat.next_message_id
        chat.next_message_id += 1
        data: dict[str, Any] = {
            "message_id": message_id,
            "from": sender.to_api(),
            "chat": chat.to_api(),
            "date": self.clock.timestamp(),
        }
        if chat.type == "channel":
            del data["from"]
            data["sender_chat"] = chat.to_api()
        if thread_id is not None:
            data["message_thread_id"] = thread_id
            if chat.is_forum:
                data["is_topic_message"] = True
                if reply_to is None:
                    reply_to = chat.messages.get(thread_id)
        if reply_to is not None:
            replied = dict(reply_to.data)
            replied.pop("reply_to_message", None)
            data["reply_to_message"] = replied
        data.update(body)
        if reply_markup is not None and "inline_keyboard" in reply_markup:
            data["reply_markup"] = reply_markup
        message = StoredMessage(
            chat_id=chat.id,
            message_id=message_id,
            data=data,
            seq=self.state.next_seq(),
            from_bot=sender.id == self.bot_user.id,
            thread_id=thread_id,
            reply_markup=reply_markup,
        )
        chat.messages[message_id] = message
        if message.from_bot and reply_markup is not None:
            if "keyboard" in reply_markup:
                chat.reply_keyboard = reply_markup
            elif reply_markup.get("remove_keyboard"):
                chat.reply_keyboard = None
        self.notify()
        return message

    def bot_sees(self, message: StoredMessage) -> bool:
        """Whether a user's group message reaches the bot (privacy mode rules)."""
        chat = self.chat(message.chat_id)
        if chat.type == "private" or not self.privacy_mode:
            return True
        member = self.bot_member(chat)
        if not member.is_present:
            return False
        if member.status in ("administrator", "creator"):
            return True
        text = message.text or message.caption or ""
        if text.startswith("/"):
            return True
        replied = message.data.get("reply_to_message")
        if replied and replied.get("from", {}).get("id") == self.bot_user.id:
            return True
        service = ("new_chat_members", "left_chat_member", "chat_shared", "pinned_message")
        return any(key in message.data for key in service)


def _as_user(who: UserActor | User) -> User:
    return who if isinstance(who, User) else who.user


def _chat_id_of(raw: dict[str, Any]) -> int | None:
    value = raw.get("chat_id")
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return None
    return None


def _json(body: dict[str, Any], status: int) -> web.Response:
    return web.Response(
        text=json.dumps(body, ensure_ascii=False), status=status, content_type="application/json"
    )


def _loggable(params: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, UploadedFile):
            out[key] = f"<file {value.filename!r}, {len(value.data)} bytes>"
        else:
            out[key] = value
    return out


async def _read_params(
    request: web.Request, specs: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    raw: dict[str, Any] = dict(request.query)
    files: dict[str, UploadedFile] = {}
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("JSON body must be an object")
            raw.update(body)
        else:
            form: MultiDictProxy[str | bytes | bytearray | web.FileField] = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    uploaded = UploadedFile(
                        filename=value.filename,
                        content_type=value.content_type,
                        data=value.file.read(),
                    )
                    files[key] = uploaded
                    if key in specs:
                        raw[key] = uploaded
                elif isinstance(value, bytes | bytearray):
                    raw[key] = bytes(value).decode("utf-8")
                else:
                    raw[key] = value
    return raw, files
