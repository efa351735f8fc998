"""Issue 18: seeded random updates through the emulator, in webhook mode, against the real
application: unicode, entities at odd UTF-16 offsets, forged callback data for every
CallbackData prefix in keyboards/, odd media, membership changes and bad webhook bodies.

The bar, asserted: no exception reaches the error boundary (middlewares/updates.py counts each
one in `libral_errors_total`), nothing fails outside it, and the emulator refuses no call except
the ones Telegram refuses for a chat the bot has left or a user who blocked it.

`LIBRAL_FUZZ_SEED` and `LIBRAL_FUZZ_UPDATES` reproduce or lengthen a run.
"""

from __future__ import annotations

import importlib
import inspect
import json
import logging
import os
import pkgutil
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiogram.filters.callback_data import CallbackData

import keyboards
from bot.app import Application
from bot.commands import COMMANDS
from bot.settings import Settings
from services.sendbudget.config import SendBudgetSettings
from tests.emulator.actors import UserActor
from tests.emulator.html_entities import utf16_len
from tests.emulator.server import BotAPIEmulator
from tests.emulator.state import CallbackQuery, Chat, StoredMessage
from tests.harness import eventually, run_bot

SEED = int(os.environ.get("LIBRAL_FUZZ_SEED", "18"))
UPDATES = int(os.environ.get("LIBRAL_FUZZ_UPDATES", "2000"))
# Pushed this many at a time, the next batch once they are handled: a fuzz run, not a load test
# (a pile of thousands at once would only measure the connection pool).
BATCH = 25

# Characters that break naive code: astral emoji (2 UTF-16 units), ZWJ sequences, combining
# marks, RTL, zero-width, HTML specials, CJK, a Fluent placeable, control-ish spaces.
PIECES = [
    "😀",
    "👩‍👩‍👧",
    "🇯🇵",
    "e\u0301",
    "\u200b",
    "\u200d",
    "\u202e",
    "مرحبا",
    "日本語",
    "ｶﾀｶﾅ",
    "<b>",
    "</i>",
    "&amp;",
    "&",
    "<",
    ">",
    '"',
    "{ $x }",
    "{",
    "}",
    "\n",
    "\t",
    " ",
    "#tag",
    "$cashtag",
    "@someone",
    "https://example.org/?a=<b>",
    "-----BEGIN PGP PUBLIC KEY BLOCK-----",
    "a",
    "Z",
    "0",
    "9",
    "٣",
    "\u00a0",
    "\ufeff",
    "𝕏",
]
ENTITY_TYPES = [
    "mention",
    "hashtag",
    "cashtag",
    "bot_command",
    "url",
    "email",
    "bold",
    "italic",
    "underline",
    "strikethrough",
    "spoiler",
    "code",
    "pre",
    "blockquote",
]


def callback_classes() -> list[type[CallbackData]]:
    """Every CallbackData in keyboards/, found by import (a new one is fuzzed as it lands)."""
    found: dict[str, type[CallbackData]] = {}
    for module in pkgutil.iter_modules(keyboards.__path__):
        loaded = importlib.import_module(f"keyboards.{module.name}")
        for _, obj in inspect.getmembers(loaded, inspect.isclass):
            if issubclass(obj, CallbackData) and obj is not CallbackData:
                found[obj.__prefix__] = obj
    return [found[p] for p in sorted(found)]


@dataclass
class Run:
    emu: BotAPIEmulator
    app: Application
    rng: random.Random
    users: list[UserActor] = field(default_factory=list)
    groups: list[Chat] = field(default_factory=list)
    # Chats where Telegram refuses the bot's calls (blocked, removed): those refusals are fine.
    gone: set[int] = field(default_factory=set)
    # Every chat that was gone at some point: a reply still being handled then may be refused.
    ever_gone: set[int] = field(default_factory=set)
    webhook_unknown: int = 0  # valid updates of no known kind, POSTed directly
    bad_bodies: int = 0
    kinds: dict[str, int] = field(default_factory=dict)

    def note(self, kind: str) -> None:
        self.kinds[kind] = self.kinds.get(kind, 0) + 1

    # -- building blocks -------------------------------------------------------------------------

    def text(self, longest: int = 300) -> str:
        rng = self.rng
        out = "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 40)))
        if rng.random() < 0.05:
            out = out * rng.randint(10, 200)  # long values (Fluent caps them at 2,500 characters)
        out = out[: rng.randint(1, longest)] if rng.random() < 0.9 else out[:4096]
        return out.strip() or "x"
        # No lone surrogate halves: a Telegram message is valid UTF-8.

    def entities(self, text: str) -> list[dict[str, Any]]:
        rng = self.rng
        size = utf16_len(text)
        result = []
        for _ in range(rng.randint(0, 4)):
            offset = rng.randint(0, max(0, size - 1))
            length = rng.randint(1, max(1, size - offset))
            kind = rng.choice(ENTITY_TYPES)
            entity: dict[str, Any] = {"type": kind, "offset": offset, "length": length}
            if kind == "pre" and rng.random() < 0.5:
                entity["language"] = "python"
            result.append(entity)
        return sorted(result, key=lambda e: (e["offset"], -e["length"]))

    def user(self) -> UserActor:
        return self.rng.choice(self.users)

    def deliver(self, chat: Chat, sender: UserActor, body: dict[str, Any]) -> None:
        if chat.type == "private" and sender.user.blocked_bot:
            sender.unblock_bot()  # writing to the bot again unblocks it, as in the app
            self.gone.discard(sender.id)
        sender.user.started_bot = sender.user.started_bot or chat.type == "private"
        message = self.emu.add_message(chat, sender.user, body)
        if chat.type == "private" or self.emu.bot_sees(message):
            self.emu.updates.push({"message": message.data})

    def bot_messages(self, chat: Chat) -> list[StoredMessage]:
        return [m for m in self.emu.messages(chat, from_bot=True) if not m.deleted]

    # -- one random update ------------------------------------------------------------------------

    async def step(self, http: aiohttp.ClientSession) -> None:
        rng = self.rng
        roll = rng.random()
        if roll < 0.16:
            await self.private_text()
        elif roll < 0.26:
            await self.private_command()
        elif roll < 0.36:
            await self.group_text()
        elif roll < 0.44:
            await self.group_command()
        elif roll < 0.62:
            await self.forged_callback()
        elif roll < 0.70:
            await self.real_button()
        elif roll < 0.82:
            await self.media()
        elif roll < 0.86:
            await self.edit()
        elif roll < 0.90:
            await self.membership()
        else:
            await self.bad_webhook_body(http)

    async def private_text(self) -> None:
        self.note("private text")
        user = self.user()
        text = self.text()
        body: dict[str, Any] = {"text": text}
        entities = self.entities(text)
        if entities:
            body["entities"] = entities
        self.deliver(user.chat, user, body)

    async def private_command(self) -> None:
        self.note("private command")
        user = self.user()
        rng = self.rng
        name = rng.choice([*COMMANDS, "ask", "room", "admin", "nosuch", "Start", "help" * 9])
        if rng.random() < 0.2:
            name += "@" + (self.emu.bot_user.username or "")
        text = "/" + name
        if rng.random() < 0.5:
            text += " " + self.text(80)
        entities = [{"type": "bot_command", "offset": 0, "length": utf16_len(text.split()[0])}]
        self.deliver(user.chat, user, {"text": text, "entities": entities})

    def group_and_member(self) -> tuple[Chat, UserActor] | None:
        present = [g for g in self.groups if self.emu.bot_member(g).is_present]
        if not present:
            return None
        group = self.rng.choice(present)
        members = [u for u in self.users if group.member(u.user).is_present]
        return group, self.rng.choice(members)

    async def group_text(self) -> None:
        picked = self.group_and_member()
        if picked is None:
            return await self.private_text()
        self.note("group mention")
        group, user = picked
        mention = "@" + (self.emu.bot_user.username or "")
        before = self.text(20) + " " if self.rng.random() < 0.3 else ""
        text = before + mention + " " + self.text(200)
        entities = self.entities(text)
        start = utf16_len(before)
        entities.append({"type": "mention", "offset": start, "length": utf16_len(mention)})
        entities.sort(key=lambda e: (e["offset"], -e["length"]))
        body: dict[str, Any] = {"text": text, "entities": entities}
        replied = self.bot_messages(group)
        if replied and self.rng.random() < 0.3:
            body["reply_to_message"] = dict(self.rng.choice(replied).data)
        self.deliver(group, user, body)
        return None

    async def group_command(self) -> None:
        picked = self.group_and_member()
        if picked is None:
            return await self.private_command()
        self.note("group command")
        group, user = picked
        rng = self.rng
        name = rng.choice([*COMMANDS, "ask", "room", "role", "private", "nosuch"])
        suffix = rng.choice(["", "@" + (self.emu.bot_user.username or ""), "@other_bot"])
        text = f"/{name}{suffix}"
        if rng.random() < 0.5:
            text += " " + self.text(60)
        entities = [{"type": "bot_command", "offset": 0, "length": utf16_len(text.split()[0])}]
        self.deliver(group, user, {"text": text, "entities": entities})
        return None

    def forged_data(self, cls: type[CallbackData]) -> str:
        rng = self.rng
        prefix = cls.__prefix__
        fields = len(cls.model_fields)
        parts = []
        for _ in range(max(0, fields + rng.choice([-1, 0, 0, 0, 1]))):
            parts.append(
                rng.choice(
                    [
                        "",
                        "0",
                        "-1",
                        str(rng.randint(0, 10**6)),
                        "9" * rng.randint(10, 25),
                        rng.choice(["ok", "y", "n", "s", "c", "h", "x", "r", "su", "ps", "ja"]),
                        "ü",
                        "😀",
                        "1.5",
                        "True",
                        rng.choice(PIECES).strip() or "x",
                    ]
                )
            )
        data = ":".join([prefix, *parts])
        while len(data.encode()) > 64:  # Telegram's limit for callback_data
            data = data[:-1]
        return data

    def press(self, message: StoredMessage, data: str, user: UserActor) -> None:
        emu = self.emu
        query = CallbackQuery(
            id=emu.state.next_query_id(),
            user_id=user.id,
            chat_id=message.chat_id,
            message_id=message.message_id,
            data=data,
            created_at=emu.clock.now(),
        )
        emu.state.callback_queries[query.id] = query
        emu.updates.push(
            {
                "callback_query": {
                    "id": query.id,
                    "from": user.user.to_api(),
                    "message": message.data,
                    "chat_instance": str(abs(message.chat_id) * 7 + 1),
                    "data": data,
                }
            }
        )

    def pressable(self, user: UserActor) -> list[tuple[StoredMessage, UserActor]]:
        """Bot messages the user can see (their private chat, groups they are in)."""
        found = [(m, user) for m in self.bot_messages(user.chat)]
        for group in self.groups:
            if group.member(user.user).is_present:
                found += [(m, user) for m in self.bot_messages(group)]
        return found

    async def forged_callback(self) -> None:
        user = self.user()
        targets = self.pressable(user)
        if not targets:
            return await self.private_command()
        cls = self.rng.choice(callback_classes())
        self.note(f"forged {cls.__prefix__}")
        message, presser = self.rng.choice(targets)
        self.press(message, self.forged_data(cls), presser)
        return None

    async def real_button(self) -> None:
        user = self.user()
        buttons = [
            (m, b["callback_data"], u)
            for m, u in self.pressable(user)
            for b in m.inline_buttons
            if "callback_data" in b
        ]
        if not buttons:
            return await self.private_command()
        self.note("real button")
        message, data, presser = self.rng.choice(buttons)
        self.press(message, data, presser)  # also presses twice, old keyboards, others' panels
        return None

    async def media(self) -> None:
        rng = self.rng
        user = self.user()
        chat: Chat = user.chat
        picked = self.group_and_member() if rng.random() < 0.3 else None
        if picked is not None:
            chat, user = picked
        kind = rng.choice(["document", "document", "photo", "location", "contact", "dice", "venue"])
        self.note(f"media {kind}")
        body: dict[str, Any]
        if kind == "document":
            name = rng.choice(
                ["notes.txt", "key.asc", "x.pub", "a.key", "IMG_1.JPG", "noext", "ü😀.txt", None]
            )
            content = (
                self.text(500).encode()
                if rng.random() < 0.6
                else rng.randbytes(rng.randint(0, 2000))
            )
            mime = rng.choice(["text/plain", "application/octet-stream", "application/pgp-keys"])
            stored = self.emu.state.store_file(content, "document", file_name=name, mime_type=mime)
            document: dict[str, Any] = {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "mime_type": mime,
                "file_size": len(content),
            }
            if name is not None:
                document["file_name"] = name
            body = {"document": document}
        elif kind == "photo":
            stored = self.emu.state.store_file(rng.randbytes(100), "photo")
            body = {
                "photo": [
                    {
                        "file_id": stored.file_id,
                        "file_unique_id": stored.file_unique_id,
                        "width": 90,
                        "height": 90,
                        "file_size": 100,
                    }
                ]
            }
        elif kind == "location":
            body = {
                "location": {"latitude": rng.uniform(-90, 90), "longitude": rng.uniform(-180, 180)}
            }
        elif kind == "contact":
            body = {"contact": {"phone_number": "+81 90 0000 0000", "first_name": self.text(20)}}
        elif kind == "dice":
            body = {"dice": {"emoji": "🎲", "value": rng.randint(1, 6)}}
        else:
            body = {
                "venue": {
                    "location": {"latitude": 35.0, "longitude": 139.0},
                    "title": self.text(30),
                    "address": self.text(30),
                }
            }
        if rng.random() < 0.3 and kind in ("document", "photo"):
            caption = self.text(200)
            body["caption"] = caption
            entities = self.entities(caption)
            if entities:
                body["caption_entities"] = entities
        self.deliver(chat, user, body)

    async def edit(self) -> None:
        user = self.user()
        mine = [
            m
            for m in self.emu.messages(user.chat)
            if m.sender_id == user.id and m.text is not None and not m.deleted
        ]
        if not mine:
            return await self.private_text()
        self.note("edit")
        await user.edit_text(self.rng.choice(mine), self.text(200))
        return None

    async def membership(self) -> None:
        rng = self.rng
        user = self.user()
        roll = rng.random()
        if roll < 0.4:
            self.note("block")
            user.block_bot()
            self.gone.add(user.id)
            self.ever_gone.add(user.id)
            return None
        owned = [g for g in self.groups if g.member(user.user).status == "creator"]
        if not owned:
            return await self.private_text()
        group = rng.choice(owned)
        if self.emu.bot_member(group).is_present:
            self.note("bot removed")
            self.gone.add(group.id)
            self.ever_gone.add(group.id)
            await user.remove_bot_from_group(group)
        else:
            self.note("bot added")
            self.gone.discard(group.id)
            await user.add_bot_to_group(group)
        return None

    async def bad_webhook_body(self, http: aiohttp.ClientSession) -> None:
        rng = self.rng
        settings = self.app.settings
        assert settings.webhook_url is not None
        assert settings.webhook_secret is not None
        headers = {"X-Telegram-Bot-Api-Secret-Token": settings.webhook_secret.get_secret_value()}
        unknown = rng.random() < 0.2
        if unknown:
            body = b'{"update_id": %d}' % rng.randint(10**8, 10**9)
        else:
            body = rng.choice(
                [
                    b"",
                    b"[]",
                    b"{}",
                    b"null",
                    b'{"update_id": "one"}',
                    b'{"update_id": 1, "message": 5}',
                    b'{"update_id": 1, "callback_query": {"id": 1}}',
                    rng.randbytes(rng.randint(1, 64)),
                    self.text(100).encode(),
                ]
            )
        self.note("webhook body")
        async with http.post(settings.webhook_url, data=body, headers=headers) as resp:
            if unknown:
                assert resp.status == 200
                self.webhook_unknown += 1
            else:
                assert resp.status == 400, body
                self.bad_bodies += 1


@pytest.fixture
async def app(
    emulator: BotAPIEmulator, make_settings: Callable[..., Settings]
) -> AsyncIterator[Application]:
    settings = make_settings(
        # The fuzz is about input, not pacing: Telegram's limits are off in the emulator.
        throttle_rate=10_000,
        throttle_burst=10_000,
        sendbudget=SendBudgetSettings(
            global_per_second=10_000, private_burst=10_000, group_per_minute=100_000
        ),
    )
    async with run_bot(emulator, settings, "webhook") as running:
        yield running


def handled(app: Application) -> int:
    return sum(app.metrics.update_counts().values())


def errors(app: Application) -> int:
    samples = (s for m in app.metrics.errors.collect() for s in m.samples)
    return int(sum(s.value for s in samples if s.name.endswith("_total")))


async def test_fuzzed_updates_reach_no_error_and_no_refused_call(
    app: Application, emulator: BotAPIEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    rng = random.Random(SEED)
    run = Run(emulator, app, rng)
    langs = ["ja", "en", None, "de", "zh-hans", "pt-br"]
    for n in range(40):
        name = rng.choice(["Aiko", "Ken", "ü", "😀", "مرحبا", "<b>x</b>", "{ $x }", "&amp;"])
        run.users.append(
            emulator.create_user(f"{name}{n}", language_code=rng.choice(langs), started_bot=True)
        )
    for n in range(6):
        owner = run.users[n]
        kind = emulator.create_group if n % 2 else emulator.create_supergroup
        group = kind(owner, f"G{n} 😀")
        for member in rng.sample(run.users, 8):
            if not group.member(member.user).is_present:
                await member.join(group)
        await owner.add_bot_to_group(group)
        run.groups.append(group)
    # Every user has met the bot: the menus give the fuzz real buttons to press.
    for user in run.users:
        await user.send_text("/start")

    base = len(emulator.updates.history)

    def sent() -> int:
        return len(emulator.updates.history) - base + run.webhook_unknown + run.bad_bodies

    async with aiohttp.ClientSession() as http:
        while sent() < UPDATES:
            for _ in range(BATCH):
                await run.step(http)
            target = len(emulator.updates.history) + run.webhook_unknown

            def caught_up(t: int = target) -> bool:
                return handled(app) >= t

            await eventually(caught_up, f"{target} updates handled", timeout=60)

    problems = {
        "errors counted by the error boundary": errors(app),
        "failures logged": failures(caplog),
        "calls refused": [
            (c.method, c.error_code, c.description)
            for c in emulator.calls
            if not c.ok and not allowed_refusal(c, run)
        ],
    }
    report = os.environ.get("LIBRAL_FUZZ_REPORT")
    if report:  # the whole list, for a human (the assertion shows its start)
        refused = [
            {"method": c.method, "error": c.description, "params": str(c.params)[:300]}
            for c in emulator.calls
            if not c.ok
        ]
        dump = {"kinds": run.kinds, **problems, "refused": refused}
        Path(report).write_text(json.dumps(dump, indent=1, ensure_ascii=False))  # noqa: ASYNC240
    assert problems == {
        "errors counted by the error boundary": 0,
        "failures logged": [],
        "calls refused": [],
    }, run.kinds
    # Every kind of fuzz ran, every callback prefix was forged.
    forged = {k.split()[1] for k in run.kinds if k.startswith("forged ")}
    assert forged == {cls.__prefix__ for cls in callback_classes()}, run.kinds
    assert run.bad_bodies > 0
    assert run.webhook_unknown > 0


def allowed_refusal(call: Any, run: Run) -> bool:
    """What Telegram refuses however right the bot is: any call to a chat the bot has left or
    a user who blocked it (the update was being handled when it happened), and the second of two
    identical edits made by two presses of one button racing each other (the user sees the same
    screen either way; the handler takes that refusal as done)."""
    if call.error_code == 403 and _chat_of(call) in run.ever_gone:
        return True
    return call.method == "editMessageText" and "message is not modified" in (
        call.description or ""
    )


def _chat_of(call: Any) -> int | None:
    value = call.params.get("chat_id")
    if value is None and call.method == "answerCallbackQuery":
        return None
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def failures(caplog: pytest.LogCaptureFixture) -> list[str]:
    """What the error boundary and the webhook handler logged as failed (with the cause)."""
    found = []
    for record in caplog.records:
        message = record.getMessage()
        if record.levelno >= logging.ERROR or "outside the error boundary" in message:
            cause = ""
            if record.exc_info and record.exc_info[1] is not None:
                cause = f": {type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
            found.append(f"{record.name}: {message}{cause}"[:400])
    return found
