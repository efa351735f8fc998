"""The personal log server end to end: the real application against the Bot API emulator.

Covers issue 4's "Done when": onboarding via `chat_shared` and via the startgroup link, every
refusal path, topics, the pinned panel and each of its buttons, bot removed → told → re-added →
delivery resumes, records that `gpg` alone decrypts and verifies, a worker killed mid-burst,
20 % injected 429/5xx, and a canary scan of the database and Redis.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import shutil
import subprocess
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import Application
from bot.db.base import utcnow
from bot.db.models import Base
from bot.db.models.logserver import GENESIS, LogServer, LogServerState, OutboxRecord
from bot.settings import Settings
from handlers.onboarding.finish import show_panel
from handlers.onboarding.link import bind_and_continue
from keyboards.language import LanguageAction, LanguageCD
from keyboards.logserver import REQUEST_GROUP, PanelAction, PanelCD
from services.crypto import (
    ContextLock,
    GeneratedKey,
    KeyVersion,
    LogRecord,
    RecordContext,
    RecordOpenError,
    VerifiedRecord,
    cleartext,
)
from services.crypto.port import normalize_fingerprint
from services.crypto.reader import FindingKind, FoundRecord, SecretKey, verify
from services.crypto.records import DOCUMENT_HEADER
from services.crypto.sequoia_engine import SequoiaEngine
from services.crypto.service import CryptoService
from services.logserver import LogServerService, LogServerSettings, RecordKind, RecordResult
from services.logserver.delivery import DeliveryWorker
from services.logserver.format import split_armored
from services.logserver.onboarding import check_group
from services.sendbudget import SendBudgetSettings
from tests.emulator import admin_rights
from tests.emulator.actors import UserActor
from tests.emulator.errors import bad_request, server_error, too_many_requests
from tests.emulator.registry import Call
from tests.emulator.server import BotAPIEmulator
from tests.emulator.state import Chat, Member, StoredMessage
from tests.harness import eventually, run_bot

FAST = LogServerSettings(
    poll_interval=0.05,
    backoff_initial=0.05,
    backoff_max=0.4,
    request_timeout=5,
)
# Limits high enough that the send budget never holds a burst back.
UNLIMITED = SendBudgetSettings(group_per_minute=10_000, global_per_second=10_000)
BOT_RIGHTS = admin_rights(can_manage_topics=True, can_delete_messages=True, can_pin_messages=True)


@pytest.fixture
async def app(
    emulator: BotAPIEmulator, make_settings: Callable[..., Settings]
) -> AsyncIterator[Application]:
    async with run_bot(emulator, make_settings(logserver=FAST)) as running:
        yield running


def service_of(app: Application) -> LogServerService:
    service = app.dispatcher["logserver"]
    assert isinstance(service, LogServerService)
    return service


def worker_of(app: Application) -> DeliveryWorker:
    worker = app.dispatcher["log_delivery"]
    assert isinstance(worker, DeliveryWorker)
    return worker


def crypto_of(app: Application) -> CryptoService:
    crypto = app.dispatcher["crypto"]
    assert isinstance(crypto, CryptoService)
    return crypto


@pytest.fixture(scope="module")
def user_key() -> GeneratedKey:
    return SequoiaEngine().generate_key("Log reader", version=KeyVersion.V4, passphrase="pw")


# ---------------------------------------------------------------------- reading the group


@dataclass
class Posted:
    """One OpenPGP message the bot posted: a single record, or a coalesced document."""

    message: StoredMessage
    armored: str
    header: str

    @property
    def count(self) -> int:
        """How many records it carries, as its plaintext header says (`seq 5–9 (5)`)."""
        found = re.search(r"seq \d+–\d+ \((\d+)\)", self.header)
        return int(found.group(1)) if found else 1


def posted_records(emulator: BotAPIEmulator, group: Chat) -> list[Posted]:
    """Every OpenPGP message the bot posted into the group (messages and `.asc` documents)."""
    found: list[Posted] = []
    for message in emulator.messages(group, from_bot=True):
        if message.document is not None:
            content = emulator.state.files[message.document["file_id"]].content.decode()
            header = message.caption or ""
            blocks = split_armored(content)
            # A file holds one message, read whole by one `gpg --decrypt` (issue 11).
            assert len(blocks) == 1, f"{len(blocks)} OpenPGP messages in one file"
            found.append(Posted(message, blocks[0], header))
        elif message.text and "BEGIN PGP MESSAGE" in message.text:
            header = message.text.split("-----BEGIN", 1)[0].strip()
            found.extend(Posted(message, block, header) for block in split_armored(message.text))
    return found


def record_count(emulator: BotAPIEmulator, group: Chat) -> int:
    """How many records the bot posted into the group (a document counts each of its own)."""
    return sum(p.count for p in posted_records(emulator, group))


def open_all(app: Application, key: GeneratedKey, posted: list[Posted]) -> list[VerifiedRecord]:
    """Every record in `posted`, in order (each record of a document on its own)."""
    return [record for _, record in open_each(app, key, posted)]


def open_each(
    app: Application, key: GeneratedKey, posted: list[Posted]
) -> list[tuple[Posted, VerifiedRecord]]:
    crypto = crypto_of(app)
    lock = ContextLock(crypto.engine, server_certs=crypto.verification_certs)
    out: list[tuple[Posted, VerifiedRecord]] = []
    for item in posted:
        opened = lock.open_message(item.armored, key.secret_armored, key.passphrase)
        assert opened.signer_fingerprint is not None
        for one in opened.items:
            assert isinstance(one, VerifiedRecord), one
            out.append((item, one))
        assert len(opened.items) == item.count, item.header
    return out


async def wait_records(
    app: Application, emulator: BotAPIEmulator, group: Chat, count: int, timeout: float = 90
) -> list[Posted]:
    """Wait until `count` records are in the group; the messages that carry them."""

    def enough() -> list[Posted] | None:
        found = posted_records(emulator, group)
        return found if sum(p.count for p in found) >= count else None

    return await emulator.wait_until(enough, timeout, what=f"{count} records in the group")


# ---------------------------------------------------------------------- onboarding helpers


async def open_logserver(user: UserActor) -> StoredMessage:
    sent = await user.send_text("/logserver")
    return await user.wait_reply(timeout=90, after=sent)


async def reply_containing(
    emulator: BotAPIEmulator,
    user: UserActor,
    needle: str,
    timeout: float = 90,
    since: StoredMessage | None = None,
) -> StoredMessage:
    return await emulator.wait_for(
        lambda m: m.from_bot and needle in (m.text or m.caption or ""),
        timeout,
        chat=user.chat,
        since=since,
    )


async def onboard(
    app: Application, emulator: BotAPIEmulator, user: UserActor, key: GeneratedKey
) -> Chat:
    """The one-tap flow: /logserver → pick the group → send the public key → ready."""
    await open_logserver(user)
    group = emulator.create_supergroup(user, f"Logs {uuid.uuid4().hex[:6]}", is_forum=True)
    await user.share_chat(REQUEST_GROUP, group)
    await reply_containing(emulator, user, "Now your key")
    await user.send_text(key.info.armored)
    await reply_containing(emulator, user, "is ready")
    await wait_records(app, emulator, group, 1)
    return group


# Safety limits only: every wait below ends as soon as its condition holds. Generous, so a loaded
# two-core machine never turns slowness into a failure.
WAIT = 90.0


async def wait_state(app: Application, user_id: int, state: LogServerState) -> None:
    """The handler answers a button before its transaction commits: wait for the commit."""

    async def reached() -> bool:
        async with app.sessionmaker() as session:
            server = await session.get(LogServer, user_id)
            return server is not None and server.state is state

    await eventually(reached, f"log server becoming {state}", timeout=WAIT)


async def wait_queued(app: Application, user_id: int, count: int) -> None:
    async def reached() -> bool:
        async with app.sessionmaker() as session:
            return await service_of(app).queued(session, user_id) == count

    await eventually(reached, f"the outbox holding {count} records", timeout=WAIT)


def panel_of(emulator: BotAPIEmulator, group: Chat) -> StoredMessage:
    assert group.pinned, "no pinned panel"
    return group.messages[group.pinned[-1]]


# ---------------------------------------------------------------------- onboarding


async def test_onboarding_with_chat_shared_creates_topics_setup_record_and_panel(
    app: Application, emulator: BotAPIEmulator, user_key: GeneratedKey
) -> None:
    user = emulator.create_user("Aiko", language_code="en")
    intro = await open_logserver(user)
    assert "Bots cannot create groups" in (intro.text or "")
    # The one-tap button asks for a forum supergroup and only the three rights the bot needs.
    button = intro.keyboard_buttons[0]["request_chat"]
    assert button["request_id"] == REQUEST_GROUP
    assert button["chat_is_forum"] is True
    assert button["chat_is_channel"] is False
    asked = {k for k, v in button["bot_administrator_rights"].items() if v}
    assert asked == {"can_manage_topics", "can_delete_messages", "can_pin_messages"}

    group = await onboard(app, emulator, user, user_key)

    names = sorted(t.name for t in group.topics.values())
    assert names == ["Audit", "Billing", "Conversations", "System"]
    panel = panel_of(emulator, group)
    assert panel.thread_id is None  # General
    labels = [b["text"] for b in panel.inline_buttons]
    assert labels == [
        "Pause logging",
        "Send a test record",
        "Change key",
        "Purge my central data now",
        "Disconnect",
    ]

    posted = posted_records(emulator, group)
    assert len(posted) == 1
    system_topic = next(t for t in group.topics.values() if t.name == "System")
    assert posted[0].message.thread_id == system_topic.thread_id
    (opened,) = open_all(app, user_key, posted)
    assert opened.ok
    assert opened.record.kind == "system"
    assert opened.record.seq == 0
    assert opened.record.body["event"] == "setup"
    assert opened.ctx == RecordContext(group.id, system_topic.thread_id)
    # The header says kind, date and sequence number and nothing else.
    assert re.fullmatch(r"#system #d\d{8}\nsystem · seq 0", posted[0].header)

    status = await open_logserver(user)
    text_ = status.text or ""
    assert group.title is not None
    assert group.title in text_
    assert "State: active" in text_


async def test_onboarding_in_japanese(
    app: Application, emulator: BotAPIEmulator, user_key: GeneratedKey
) -> None:
    user = emulator.create_user("Aiko", language_code="ja")
    intro = await open_logserver(user)
    assert "ボットはグループを作れない" in (intro.text or "")
    group = emulator.create_supergroup(user, "ログ", is_forum=True)
    await user.share_chat(REQUEST_GROUP, group)
    await reply_containing(emulator, user, "公開鍵")
    await user.send_text(user_key.info.armored)
    await reply_containing(emulator, user, "準備ができました")
    assert sorted(t.name for t in group.topics.values()) == sorted(
        ["会話", "支払い", "監査", "システム"]
    )


def startgroup_token(message: StoredMessage) -> str:
    (button,) = message.inline_buttons
    url = button["url"]
    assert "&admin=manage_topics+delete_messages+pin_messages" in url
    match = re.search(r"startgroup=([\w-]+)", url)
    assert match is not None
    return match.group(1)


async def link_message(emulator: BotAPIEmulator, user: UserActor) -> StoredMessage:
    sent = await user.send_text("/logserver")
    return await emulator.wait_for(
        lambda m: m.from_bot and "add me with this link" in (m.text or ""),
        10,
        chat=user.chat,
        since=sent,
    )


async def test_onboarding_with_the_startgroup_link_and_a_key_file(
    app: Application, emulator: BotAPIEmulator, user_key: GeneratedKey
) -> None:
    user = emulator.create_user("Ben", language_code="en")
    token = startgroup_token(await link_message(emulator, user))
    group = emulator.create_supergroup(user, "Ben's logs", is_forum=True)
    await user.add_bot_to_group(group, BOT_RIGHTS, start_payload=token)
    await emulator.wait_for(
        lambda m: m.from_bot and "continue in your private chat" in (m.text or ""), 20, chat=group
    )
    await reply_containing(emulator, user, "Now your key")
    await user.send_document(user_key.info.armored.encode(), "ben.asc")
    await reply_containing(emulator, user, "is ready")
    await wait_records(app, emulator, group, 1)
    assert len(group.topics) == 4

    # The token worked once.
    other = emulator.create_supergroup(user, "Second", is_forum=True)
    await user.add_bot_to_group(other, BOT_RIGHTS, start_payload=token)
    await emulator.wait_for(
        lambda m: m.from_bot and "expired or was already used" in (m.text or ""), 20, chat=other
    )


async def test_an_expired_or_foreign_startgroup_token_is_refused(
    app: Application, emulator: BotAPIEmulator
) -> None:
    user = emulator.create_user("Cy", language_code="en")
    token = startgroup_token(await link_message(emulator, user))
    await expire_token(app, token)
    group = emulator.create_supergroup(user, "Late", is_forum=True)
    await user.add_bot_to_group(group, BOT_RIGHTS, start_payload=token)
    await emulator.wait_for(
        lambda m: m.from_bot and "expired or was already used" in (m.text or ""), 20, chat=group
    )

    token = startgroup_token(await link_message(emulator, user))
    stranger = emulator.create_user("Eve", language_code="en")
    theirs = emulator.create_supergroup(stranger, "Eve's", is_forum=True)
    await stranger.add_bot_to_group(theirs, BOT_RIGHTS, start_payload=token)
    await emulator.wait_for(
        lambda m: m.from_bot and "belongs to someone else" in (m.text or ""), 20, chat=theirs
    )
    async with app.sessionmaker() as session:
        assert await session.get(LogServer, stranger.id) is None
        assert await session.get(LogServer, user.id) is None


async def expire_token(app: Application, token: str) -> None:
    """Let the token's 10 minutes pass (Redis: its TTL runs out; memory: the clock moves)."""
    key = app.settings.redis_prefix + "ls:tok:" + token
    if app.redis is not None:
        assert await app.redis.exists(key)
        await app.redis.pexpire(key, 1)
        while await app.redis.exists(key):
            pass
    else:
        from bot.state import MemoryState

        state = app.state
        assert isinstance(state, MemoryState)
        real = state._now
        state._now = lambda: real() + 601
        assert await state.get("ls:tok:" + token) is None
        state._now = real


@pytest.mark.parametrize(
    ("arrange", "expected"),
    [
        ("basic-group", "That is a basic group"),
        ("not-forum", "That group has no topics"),
        ("bot-not-admin", "I am not an administrator there"),
        ("missing-rights", "lack: manage topics"),
        ("user-not-admin", "Only the owner or an administrator"),
    ],
)
async def test_each_refusal_explains_how_to_fix_it(
    app: Application, emulator: BotAPIEmulator, arrange: str, expected: str
) -> None:
    user = emulator.create_user("Dana", language_code="en")
    token = startgroup_token(await link_message(emulator, user))
    if arrange == "basic-group":
        group = emulator.create_group(user, "Basic")
        await user.add_bot_to_group(group, BOT_RIGHTS, start_payload=token)
    elif arrange == "not-forum":
        group = emulator.create_supergroup(user, "Plain", is_forum=False)
        await user.add_bot_to_group(group, BOT_RIGHTS, start_payload=token)
    elif arrange == "bot-not-admin":
        group = emulator.create_supergroup(user, "Member", is_forum=True)
        await user.add_bot_to_group(group, None, start_payload=token)
    elif arrange == "missing-rights":
        group = emulator.create_supergroup(user, "Weak", is_forum=True)
        rights = admin_rights(can_delete_messages=True, can_pin_messages=True)
        await user.add_bot_to_group(group, rights, start_payload=token)
    else:
        owner = emulator.create_user("Owner", language_code="en")
        group = emulator.create_supergroup(owner, "Theirs", is_forum=True, members=[user])
        await owner.add_bot_to_group(group, BOT_RIGHTS)
        await user.send_text(f"/start@{emulator.bot_user.username} {token}", chat=group)
    refusal = await emulator.wait_for(
        lambda m: m.from_bot and expected in (m.text or ""), 20, chat=group
    )
    assert refusal.text
    async with app.sessionmaker() as session:
        assert await session.get(LogServer, user.id) is None


async def test_warnings_for_other_members_and_extra_rights_do_not_refuse(
    app: Application, emulator: BotAPIEmulator, user_key: GeneratedKey
) -> None:
    user = emulator.create_user("Fay", language_code="en")
    friend = emulator.create_user("Gus", language_code="en")
    token = startgroup_token(await link_message(emulator, user))
    group = emulator.create_supergroup(user, "Shared", is_forum=True, members=[friend])
    rights = admin_rights(
        can_manage_topics=True,
        can_delete_messages=True,
        can_pin_messages=True,
        can_restrict_members=True,
    )
    await user.add_bot_to_group(group, rights, start_payload=token)
    linked = await reply_containing(emulator, user, "Linked to the group")
    assert "one other person is in this group" in (linked.text or "")
    assert "more rights than I need (ban users)" in (linked.text or "")
    await reply_containing(emulator, user, "Now your key")


async def test_a_pasted_secret_key_is_deleted_and_an_invalid_key_explained(
    app: Application, emulator: BotAPIEmulator, user_key: GeneratedKey
) -> None:
    user = emulator.create_user("Hana", language_code="en")
    await open_logserver(user)
    group = emulator.create_supergroup(user, "Keys", is_forum=True)
    await user.share_chat(REQUEST_GROUP, group)
    await reply_containing(emulator, user, "Now your key")

    pasted = await user.send_text(user_key.secret_armored)
    warning = await user.wait_reply(timeout=WAIT, after=pasted)
    assert "That was a <b>secret</b> key" in (warning.data.get("text") or "") or (
        "That was a secret key. I deleted your message" in (warning.text or "")
    )
    assert user.chat.messages[pasted.message_id].deleted

    garbage = (
        "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nbm90IGEga2V5\n-----END PGP PUBLIC KEY BLOCK-----"
    )
    sent = await user.send_text(garbage)
    answer = await user.wait_reply(timeout=WAIT, after=sent)
    assert "That is not an OpenPGP public key" in (answer.text or "")

    secret_file = await user.send_document(user_key.secret_armored.encode(), "secret.asc")
    answer = await user.wait_reply(timeout=WAIT, after=secret_file)
    assert "secret" in (answer.text or "")
    assert user.chat.messages[secret_file.message_id].deleted
    async with app.sessionmaker() as session:
        server = await session.get(LogServer, user.id)
        assert server is not None
        assert server.state is LogServerState.AWAITING_KEY
        assert server.public_key is None


# ---------------------------------------------------------------------- the panel


async def press_panel(
    user: UserActor, emulator: BotAPIEmulator, group: Chat, action: PanelAction
) -> str:
    data = PanelCD(action=action).pack()
    await emulator.wait_until(
        lambda: any(
            b.get("callback_data") == data for b in panel_of(emulator, group).inline_buttons
        ),
        WAIT,
        what=f"panel button {data}",
    )
    pressed = await user.press(panel_of(emulator, group), data=data, timeout=WAIT)
    assert pressed.answer is not None
    return pressed.answer.text or ""


async def test_each_panel_button_works_and_only_for_the_owner(
    app: Application, emulator: BotAPIEmulator, user_key: GeneratedKey
) -> None:
    user = emulator.create_user("Jo", language_code="en")
    group = await onboard(app, emulator, user, user_key)
    service = service_of(app)
    stranger = emulator.create_user("Kim", language_code="en")
    await stranger.join(group)

    answer = await press_panel(stranger, emulator, group, PanelAction.PAUSE)
    assert answer == "Only the owner of this log server can use its buttons."

    # Pause: nothing is recorded; the panel offers Resume.
    answer = await press_panel(user, emulator, group, PanelAction.PAUSE)
    assert answer.startswith("Logging paused")
    await emulator.wait_until(
        lambda: "Resume logging" in [b["text"] for b in panel_of(emulator, group).inline_buttons],
        WAIT,
        what="panel shows resume",
    )
    await wait_state(app, user.id, LogServerState.PAUSED)
    assert await service.record(user.id, RecordKind.CHAT, {"q": "paused"}) is RecordResult.PAUSED
    answer = await press_panel(user, emulator, group, PanelAction.RESUME)
    assert answer == "Logging resumed."
    await wait_state(app, user.id, LogServerState.ACTIVE)
    assert await service.record(user.id, RecordKind.CHAT, {"q": "x"}) is RecordResult.QUEUED

    # Test record: lands in the System topic.
    answer = await press_panel(user, emulator, group, PanelAction.TEST)
    assert answer.startswith("Test record queued")
    # setup, paused (Audit), resumed (Audit), "x", test
    posted = await wait_records(app, emulator, group, 5)
    events = [r.record.body.get("event") for r in open_all(app, user_key, posted)]
    assert "test" in events

    # Purge asks first, then deletes the user's temporary data (here a queued record). Posted is
    # not yet acknowledged: wait until the worker has deleted the delivered rows, so that only
    # the row added here is left to purge.
    await wait_queued(app, user.id, 0)
    await press_panel(user, emulator, group, PanelAction.PURGE)
    await emulator.wait_until(
        lambda: "cannot be undone" in (panel_of(emulator, group).text or ""),
        WAIT,
        what="confirmation",
    )
    async with app.sessionmaker() as session:
        session.add(OutboxRecord(user_id=user.id, seq=999, kind="chat", armored="x", attempts=0))
        server = await session.get(LogServer, user.id)
        assert server is not None
        server.state = LogServerState.DISCONNECTED  # keep the worker off this row
        await session.commit()
    answer = await press_panel(user, emulator, group, PanelAction.PURGE_YES)
    assert answer.startswith("Purged: one item")
    await wait_queued(app, user.id, 1)  # only the purge's own Audit record is left
    async with app.sessionmaker() as session:
        server = await session.get(LogServer, user.id)
        assert server is not None
        server.state = LogServerState.ACTIVE
        await session.commit()
    await wait_queued(app, user.id, 0)

    # Rotate: the new key arrives in private chat; later records are encrypted to it.
    answer = await press_panel(user, emulator, group, PanelAction.ROTATE)
    assert "private chat" in answer
    await reply_containing(emulator, user, "Send me your new")
    new_key = SequoiaEngine().generate_key("New", version=KeyVersion.V4, passphrase="pw2")
    await user.send_text(new_key.info.armored)
    await reply_containing(emulator, user, "Key accepted")
    before = record_count(emulator, group)
    assert await service.record(user.id, RecordKind.BILLING, {"stars": 5}) is RecordResult.QUEUED
    posted = await wait_records(app, emulator, group, before + 2)
    last = open_all(app, new_key, posted[-1:])[0]
    assert last.record.kind in ("billing", "audit")

    # Disconnect asks first, then unlinks and leaves the group.
    await press_panel(user, emulator, group, PanelAction.DISCONNECT)
    await press_panel(user, emulator, group, PanelAction.DISCONNECT_YES)
    await reply_containing(emulator, user, "Log server disconnected")
    assert not group.members[emulator.bot_user.id].is_present
    async with app.sessionmaker() as session:
        assert await session.get(LogServer, user.id) is None
    assert await service.record(user.id, RecordKind.CHAT, {}) is RecordResult.NO_LOG_SERVER


def status_now(emulator: BotAPIEmulator, message: StoredMessage) -> StoredMessage:
    return emulator.chat(message.chat_id).messages[message.message_id]


async def test_status_panel_in_private_rechecks_changes_key_and_disconnects(
    app: Application, emulator: BotAPIEmulator, user_key: GeneratedKey
) -> None:
    user = emulator.create_user("Lou", language_code="en")
    group = await onboard(app, emulator, user, user_key)
    status = await open_logserver(user)
    await user.press(status, text="Check again", timeout=WAIT)
    await reply_containing(emulator, user, "The group is in order.")
    await user.press(status, text="Change key", timeout=WAIT)
    await reply_containing(emulator, user, "Send me your new")
    await user.press(status, text="Disconnect", timeout=WAIT)
    await emulator.wait_until(
        lambda: any(
            b["text"] == "Yes, disconnect" for b in status_now(emulator, status).inline_buttons
        ),
        WAIT,
        what="confirmation shown",
    )
    await user.press(status, text="Yes, disconnect", timeout=WAIT)
    await emulator.wait_until(
        lambda: "Log server disconnected" in (user.chat.messages[status.message_id].text or ""),
        WAIT,
        what="status edited",
    )
    assert not group.members[emulator.bot_user.id].is_present


# ---------------------------------------------------------------------- removal, 403, 24 h


async def test_bot_removed_user_told_re_added_delivery_resumes(
    app: Application, emulator: BotAPIEmulator, user_key: GeneratedKey
) -> None:
    user = emulator.create_user("Mia", language_code="en")
    group = await onboard(app, emulator, user, user_key)
    service = service_of(app)

    await user.remove_bot_from_group(group)
    await reply_containing(emulator, user, "Your log server is disconnected: I was removed")
    for n in range(3):
        assert await service.record(user.id, RecordKind.CHAT, {"n": n}) is RecordResult.QUEUED
    async with app.sessionmaker() as session:
        assert await service.queued(session, user.id) == 3

    await user.add_bot_to_group(group, BOT_RIGHTS)
    await reply_containing(emulator, user, "connected again. 3 waiting records")
    posted = await wait_records(app, emulator, group, 4)
    opened = open_all(app, user_key, posted)
    assert [r.record.seq for r in opened] == [0, 1, 2, 3]
    assert all(r.ok for r in opened)

    # Demoted below the needed rights: disconnected again, and told why.
    await user.promote_bot(group, admin_rights(can_pin_messages=True))
    await reply_containing(emulator, user, "no longer an administrator")


async def test_a_403_on_delivery_disconnects_and_tells_the_user(
    app: Application, emulator: BotAPIEmulator, user_key: GeneratedKey
) -> None:
    user = emulator.create_user("Ned", language_code="en")
    group = await onboard(app, emulator, user, user_key)
    # The group loses the bot without an update reaching us (e.g. while we were down).
    bot_user = emulator.bot_user
    group.members[bot_user.id] = Member(bot_user, "kicked")
    await service_of(app).record(user.id, RecordKind.AUDIT, {"x": 1})
    await reply_containing(emulator, user, "Your log server is disconnected")
    async with app.sessionmaker() as session:
        server = await session.get(LogServer, user.id)
        assert server is not None
        assert server.state is LogServerState.DISCONNECTED
        assert await service_of(app).queued(session, user.id) == 1


async def test_undelivered_records_are_dropped_after_24_hours_and_the_user_told(
    app: Application, emulator: BotAPIEmulator, user_key: GeneratedKey
) -> None:
    user = emulator.create_user("Ola", language_code="en")
    group = await onboard(app, emulator, user, user_key)
    await user.remove_bot_from_group(group)
    await reply_containing(emulator, user, "disconnected")
    service = service_of(app)
    for n in range(3):
        await service.record(user.id, RecordKind.CHAT, {"n": n})
    await worker_of(app).drop_expired(now=utcnow() + timedelta(hours=24))
    await reply_containing(emulator, user, "3 records could not be delivered")
    async with app.sessionmaker() as session:
        assert await service.queued(session, user.id) == 0


# ---------------------------------------------------------------------- gpg alone


def gpg(home: Path, *args: str, input_: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["gpg", "--homedir", str(home), "--batch", "--yes", "--status-fd", "2", *args],
        input=input_,
        capture_output=True,
        check=False,
        timeout=60,
    )


@pytest.fixture
def gpg_home(tmp_path: Path) -> Path:
    if shutil.which("gpg") is None:
        pytest.skip("gpg is not installed")
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    made = gpg(
        home,
        "--passphrase",
        "",
        "--quick-gen-key",
        "Reader <r@example.org>",
        "ed25519",
        "sign",
        "0",
    )
    assert made.returncode == 0, made.stderr.decode(errors="replace")
    fpr = re.search(rb"KEY_CREATED \w ([0-9A-F]{40})", made.stderr)
    assert fpr is not None
    added = gpg(
        home, "--passphrase", "", "--quick-add-key", fpr.group(1).decode(), "cv25519", "encr", "0"
    )
    assert added.returncode == 0, added.stderr.decode(errors="replace")
    return home


async def test_records_decrypt_and_verify_with_the_gpg_command_line_alone(
    app: Application, emulator: BotAPIEmulator, gpg_home: Path, tmp_path: Path
) -> None:
    public = gpg(gpg_home, "--armor", "--export", "r@example.org").stdout.decode()
    assert "PUBLIC KEY BLOCK" in public
    user = emulator.create_user("Pia", language_code="en")
    await open_logserver(user)
    group = emulator.create_supergroup(user, "GPG", is_forum=True)
    await user.share_chat(REQUEST_GROUP, group)
    await reply_containing(emulator, user, "Now your key")
    await user.send_text(public)
    await reply_containing(emulator, user, "is ready")
    canary = f"secret question {uuid.uuid4().hex}"
    await service_of(app).record(user.id, RecordKind.CHAT, {"prompt": canary, "answer": "42"})
    posted = await wait_records(app, emulator, group, 2)

    # The server's public key, as the reader would fetch it once.
    server_cert = crypto_of(app).server_key.public_armored
    imported = gpg(gpg_home, "--import", input_=server_cert.encode())
    assert imported.returncode == 0, imported.stderr.decode(errors="replace")
    server_fpr = crypto_of(app).server_key.fingerprint.upper()

    chat_topic = next(t for t in group.topics.values() if t.name == "Conversations")
    for item in posted:
        assert canary not in item.header
        assert canary not in (item.message.text or "")[:200]
        out = gpg(gpg_home, "--decrypt", input_=item.armored.encode())
        status = out.stderr.decode(errors="replace")
        assert out.returncode == 0, status
        assert f"VALIDSIG {server_fpr}" in status or re.search(
            rf"VALIDSIG [0-9A-F]+ .* {server_fpr}", status
        ), status
        doc = json.loads(out.stdout)
        assert doc["ctx"]["chat_id"] == group.id
        assert doc["ctx"]["thread_id"] == item.message.thread_id
        if doc["kind"] == "chat":
            assert doc["body"]["prompt"] == canary
            assert item.message.thread_id == chat_topic.thread_id
            assert re.fullmatch(rf"#chat #d\d{{8}}\nchat · seq {doc['seq']}", item.header)

    # A backed-up queue goes out as coalesced documents: each `.asc` file the bot uploaded
    # decrypts with one gpg command and exit status 0 (issue 11), and every record in it
    # verifies on its own with `gpg --verify`, exit status 0.
    emulator.limits.enabled = True
    await user.remove_bot_from_group(group)
    await reply_containing(emulator, user, "disconnected")
    for n in range(40):
        await service_of(app).record(user.id, RecordKind.CHAT, {"n": n, "text": "こんにちは"})
    await user.add_bot_to_group(group, BOT_RIGHTS)
    posted = await wait_records(app, emulator, group, 42)
    documents = [p for p in posted if p.count > 1]
    assert documents, "nothing was coalesced"
    seen: list[int] = []
    for item in documents:
        assert item.message.document is not None
        content = emulator.state.files[item.message.document["file_id"]].content
        out = gpg(gpg_home, "--decrypt", input_=content)
        status = out.stderr.decode(errors="replace")
        assert out.returncode == 0, status
        assert "GOODSIG" in status, status
        assert server_fpr in status, status
        text = out.stdout.decode()
        assert text.startswith(DOCUMENT_HEADER + "\n")
        blocks = cleartext.find_blocks(text)
        assert len(blocks) == item.count
        for block in blocks:
            verified = gpg(gpg_home, "--verify", input_=block.encode())
            checked = verified.stderr.decode(errors="replace")
            assert verified.returncode == 0, checked
            assert "GOODSIG" in checked, checked
            assert server_fpr in checked, checked
            signed = gpg(gpg_home, "--decrypt", input_=block.encode())
            doc = json.loads(signed.stdout)
            assert doc["ctx"] == {"chat_id": group.id, "thread_id": chat_topic.thread_id}
            seen.append(doc["seq"])
    assert seen == sorted(seen)


# ---------------------------------------------------------------------- delivery under stress


def seq_counts(
    app: Application, key: GeneratedKey, emulator: BotAPIEmulator, group: Chat
) -> Counter[int]:
    return Counter(r.record.seq for r in open_all(app, key, posted_records(emulator, group)))


async def test_killing_the_worker_mid_burst_loses_nothing_and_sends_nothing_twice(
    emulator: BotAPIEmulator, make_settings: Callable[..., Settings], user_key: GeneratedKey
) -> None:
    async with run_bot(emulator, make_settings(logserver=FAST, sendbudget=UNLIMITED)) as app:
        user = emulator.create_user("Quinn", language_code="en")
        group = await onboard(app, emulator, user, user_key)
        service = service_of(app)
        total = 150
        for n in range(total):
            await service.record(user.id, RecordKind.CHAT, {"n": n})
        # Kill it as soon as part of the burst is out.
        await emulator.wait_until(
            lambda: record_count(emulator, group) >= 20 or None, 60, what="burst started"
        )
        worker_of(app).kill()
        async with app.sessionmaker() as session:
            left = await service.queued(session, user.id)
        assert left > 0, "the burst finished before the kill: nothing was tested"

        restarted = DeliveryWorker(service, app.bot, app.translator)
        restarted.start()
        try:
            await emulator.wait_until(
                lambda: record_count(emulator, group) >= total + 1 or None,
                120,
                what="every record after the restart",
            )
        finally:
            await restarted.stop()
        counts = seq_counts(app, user_key, emulator, group)
        assert sorted(counts) == list(range(total + 1))
        assert max(counts.values()) == 1


async def test_every_record_arrives_with_20_percent_429_and_5xx(
    emulator: BotAPIEmulator, make_settings: Callable[..., Settings], user_key: GeneratedKey
) -> None:
    # Limits high enough that nearly every record goes as its own call: more calls to fail.
    async with run_bot(emulator, make_settings(logserver=FAST, sendbudget=UNLIMITED)) as app:
        user = emulator.create_user("Rae", language_code="en")
        group = await onboard(app, emulator, user, user_key)
        injected: Counter[str] = Counter()
        calls = 0

        def flaky(method: str) -> Any:
            original = emulator.methods.get(method)
            assert original is not None

            async def handler(call: Call) -> Any:
                nonlocal calls
                if call.params.get("chat_id") == group.id:
                    calls += 1
                    # Every fifth call into the group fails: 500, 429, 502, 429, 500, …
                    if calls % 5 == 0:
                        n = calls // 5
                        if n % 2 == 0:
                            injected["429"] += 1
                            raise too_many_requests(1)
                        injected["5xx"] += 1
                        raise server_error(500 if n % 4 == 1 else 502)
                return await original(call)

            return handler

        for method in ("sendMessage", "sendDocument"):
            emulator.override_method(method, flaky(method))
        total = 40
        service = service_of(app)
        for n in range(total):
            await service.record(user.id, RecordKind.BILLING, {"n": n})
            await asyncio.sleep(0.02)  # a trickle, so that most go as single messages
        await emulator.wait_until(
            lambda: record_count(emulator, group) >= total + 1 or None,
            120,
            what="every record despite faults",
        )
        assert injected["429"] > 0
        assert injected["5xx"] > 0
        counts = seq_counts(app, user_key, emulator, group)
        assert sorted(counts) == list(range(total + 1))
        assert max(counts.values()) == 1
        stats = worker_of(app).stats
        assert app.send_budget.stats.retried == injected["429"]
        assert stats.server_errors == injected["5xx"]


async def test_a_backed_up_queue_is_coalesced_into_one_document_per_topic(
    emulator: BotAPIEmulator, make_settings: Callable[..., Settings], user_key: GeneratedKey
) -> None:
    async with run_bot(emulator, make_settings(logserver=FAST)) as app:
        user = emulator.create_user("Sam", language_code="en")
        group = await onboard(app, emulator, user, user_key)
        emulator.limits.enabled = True
        service = service_of(app)
        # The group is unreachable for a while: records pile up.
        await user.remove_bot_from_group(group)
        await reply_containing(emulator, user, "disconnected")
        for n in range(60):
            await service.record(user.id, RecordKind.CHAT, {"n": n})
        await user.add_bot_to_group(group, BOT_RIGHTS)
        await emulator.wait_until(
            lambda: record_count(emulator, group) >= 61 or None, 120, what="all 61 records"
        )
        documents = [m for m in emulator.messages(group, from_bot=True) if m.document]
        assert documents, "nothing was coalesced"
        assert documents[0].document is not None
        assert documents[0].document["file_name"].endswith(".asc")
        assert re.fullmatch(
            r"#chat #d\d{8}\nchat · seq \d+–\d+ \(\d+\)", documents[0].caption or ""
        )
        assert not emulator.errors(429)
        counts = seq_counts(app, user_key, emulator, group)
        assert sorted(counts) == list(range(61))
        assert max(counts.values()) == 1


async def test_rows_sealed_by_an_older_version_go_alone_and_the_chain_goes_on(
    emulator: BotAPIEmulator, make_settings: Callable[..., Settings], user_key: GeneratedKey
) -> None:
    """Outbox rows an older version sealed when it recorded them (`armored`, its chain head
    already moved past them) are posted as they are, each on its own; the records stored after
    them go out as a document chained to the last of them, and nothing is sent twice."""
    async with run_bot(emulator, make_settings(logserver=FAST)) as app:
        user = emulator.create_user("Ola", language_code="en")
        group = await onboard(app, emulator, user, user_key)
        emulator.limits.enabled = True
        service = service_of(app)
        await wait_queued(app, user.id, 0)
        await user.remove_bot_from_group(group)
        await reply_containing(emulator, user, "disconnected")
        chat_thread = topic_named(group, "Conversations")
        lock = crypto_of(app).context_lock
        async with app.sessionmaker() as session:
            server = await session.get(LogServer, user.id)
            assert server is not None
            assert (server.next_seq, server.head_seq) == (1, 0)
            prev = server.last_digest
            for seq in (1, 2):  # what the older version stored: sealed, head moved
                record = LogRecord("chat", seq, prev, {"n": seq, "old": True}, ts=utcnow())
                sealed = lock.seal_record(
                    record, user_key.info.armored, RecordContext(group.id, chat_thread)
                )
                session.add(
                    OutboxRecord(user_id=user.id, seq=seq, kind="chat", armored=sealed.armored)
                )
                prev = sealed.digest
            server.last_digest = prev
            server.next_seq = 3
            await session.commit()
        for n in range(3, 30):
            assert await service.record(user.id, RecordKind.CHAT, {"n": n}) is RecordResult.QUEUED
        await user.add_bot_to_group(group, BOT_RIGHTS)
        await wait_records(app, emulator, group, 30)
        await wait_queued(app, user.id, 0)
        opened = open_each(app, user_key, posted_records(emulator, group))

    by_seq = {r.record.seq: (p, r) for p, r in opened}
    assert sorted(r.record.seq for _, r in opened) == list(range(30))  # each exactly once
    for seq in (1, 2):
        item, old = by_seq[seq]
        assert item.count == 1  # alone, as it was sealed
        assert old.record.body == {"n": seq, "old": True}
    assert any(p.count > 1 for p, _ in opened), "the rest was not coalesced"
    prev_digest = GENESIS
    for seq in range(30):
        _, verified = by_seq[seq]
        assert verified.record.prev == prev_digest, f"chain broken at {seq}"
        assert verified.ctx.chat_id == group.id
        prev_digest = verified.digest


# ---------------------------------------------------------------------- canaries


async def database_dump(app: Application) -> str:
    parts: list[str] = []
    async with app.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            rows = (await conn.execute(select(table))).all()
            parts.extend(repr(tuple(row)) for row in rows)
    return "\n".join(parts)


async def redis_dump(app: Application) -> str:
    if app.redis is None:
        from bot.state import MemoryState

        assert isinstance(app.state, MemoryState)
        return repr(app.state._data)
    parts: list[str] = []
    async for key in app.redis.scan_iter(match=app.settings.redis_prefix + "*"):
        reply = await app.redis.type(key)
        kind = reply.decode() if isinstance(reply, bytes) else reply
        parts.append(repr(key))
        if kind == "string":
            parts.append(repr(await app.redis.get(key)))
        elif kind == "hash":
            parts.append(repr(await app.redis.hgetall(key)))
        elif kind == "list":
            parts.append(repr(await app.redis.lrange(key, 0, -1)))
        elif kind == "set":
            parts.append(repr(await app.redis.smembers(key)))
        elif kind == "zset":
            parts.append(repr(await app.redis.zrange(key, 0, -1)))
        elif kind == "stream":
            parts.append(repr(await app.redis.xrange(key)))
    return "\n".join(parts)


async def test_no_plaintext_record_or_group_id_in_the_database_or_redis(
    app: Application, emulator: BotAPIEmulator, user_key: GeneratedKey
) -> None:
    user = emulator.create_user("Tao", language_code="en")
    title = f"TITLE-CANARY-{uuid.uuid4().hex}"
    await open_logserver(user)
    group = emulator.create_supergroup(user, title, is_forum=True)
    await user.share_chat(REQUEST_GROUP, group)
    await reply_containing(emulator, user, "Now your key")
    await user.send_text(user_key.info.armored)
    await reply_containing(emulator, user, "is ready")
    await wait_records(app, emulator, group, 1)

    # Queue records that cannot be delivered, so their ciphertext sits in the outbox.
    await user.remove_bot_from_group(group)
    await reply_containing(emulator, user, "disconnected")
    canary = f"BODY-CANARY-{uuid.uuid4().hex}"
    service = service_of(app)
    for kind in RecordKind:
        assert await service.record(user.id, kind, {"text": canary}) is RecordResult.QUEUED

    group_id = str(group.id)
    for dump in (await database_dump(app), await redis_dump(app)):
        assert canary not in dump
        assert title not in dump
        assert group_id not in dump
    db_path = app.settings.sqlite_path()
    if db_path is not None:
        for path in db_path.parent.glob(db_path.name + "*"):
            raw = path.read_bytes()
            assert canary.encode() not in raw
            assert title.encode() not in raw
            assert group_id.encode() not in raw


async def test_more_refusals_each_with_its_message(
    app: Application, emulator: BotAPIEmulator, user_key: GeneratedKey
) -> None:
    # A key nobody asked for.
    loner = emulator.create_user("Uma", language_code="en")
    sent = await loner.send_text(user_key.info.armored)
    answer = await loner.wait_reply(timeout=WAIT, after=sent)
    assert "I was not waiting for a key" in (answer.text or "")

    # A group that is already someone else's log server.
    owner = emulator.create_user("Vic", language_code="en")
    group = await onboard(app, emulator, owner, user_key)
    admin = emulator.create_user("Wes", language_code="en")
    group.members[admin.id] = Member(admin.user, "administrator", BOT_RIGHTS)
    token = startgroup_token(await link_message(emulator, admin))
    await admin.send_text(f"/start@{emulator.bot_user.username} {token}", chat=group)
    await reply_containing(emulator, admin, "already the log server of another account")

    # Paused: the test button says so instead of recording.
    await press_panel(owner, emulator, group, PanelAction.PAUSE)
    await wait_state(app, owner.id, LogServerState.PAUSED)
    answer_text = await press_panel(owner, emulator, group, PanelAction.TEST)
    assert answer_text.startswith("Logging is paused")

    # A panel whose log server is gone.
    async with app.sessionmaker() as session:
        server = await session.get(LogServer, owner.id)
        assert server is not None
        await session.delete(server)
        await session.commit()
    pressed = await owner.press(
        panel_of(emulator, group),
        data=PanelCD(action=PanelAction.RESUME).pack(),
        timeout=WAIT,
    )
    assert pressed.answer is not None
    assert pressed.answer.text == "This group is no longer a log server."


async def test_topics_that_cannot_be_created_are_explained(
    app: Application, emulator: BotAPIEmulator, user_key: GeneratedKey
) -> None:
    async def not_enough_rights(call: Call) -> Any:
        raise bad_request("not enough rights to create a topic")

    emulator.override_method("createForumTopic", not_enough_rights)
    user = emulator.create_user("Xia", language_code="en")
    await open_logserver(user)
    group = emulator.create_supergroup(user, "No topics", is_forum=True)
    await user.share_chat(REQUEST_GROUP, group)
    await reply_containing(emulator, user, "Now your key")
    await user.send_text(user_key.info.armored)
    await reply_containing(emulator, user, "I could not create the topics")
    assert not group.topics


# ---------------------------------------------------------------------- a deleted topic (issue 11)


def topic_named(group: Chat, name: str) -> int:
    return next(t.thread_id for t in group.topics.values() if t.name == name)


async def test_a_deleted_topic_is_created_again_on_delivery_and_its_records_follow(
    app: Application, emulator: BotAPIEmulator, user_key: GeneratedKey
) -> None:
    user = emulator.create_user("Yan", language_code="en")
    group = await onboard(app, emulator, user, user_key)
    old_thread = topic_named(group, "Conversations")
    await user.delete_topic(group, old_thread)
    service = service_of(app)
    for n in range(3):
        assert await service.record(user.id, RecordKind.CHAT, {"n": n}) is RecordResult.QUEUED

    posted = await wait_records(app, emulator, group, 4)
    new_thread = topic_named(group, "Conversations")
    assert new_thread != old_thread
    opened = open_all(app, user_key, posted)
    chats = [(p, r) for p, r in zip(posted, opened, strict=True) if r.record.kind == "chat"]
    assert [r.record.body["n"] for _, r in chats] == [0, 1, 2]
    for item, record in chats:
        # Sealed for the topic it arrived in, and the chain runs on unbroken.
        assert item.message.thread_id == new_thread
        assert record.ctx == RecordContext(group.id, new_thread)
    by_seq = sorted(opened, key=lambda r: r.record.seq)
    assert all(b.record.prev == a.digest for a, b in itertools.pairwise(by_seq))
    async with app.sessionmaker() as session:
        server = await session.get(LogServer, user.id)
        assert server is not None
        assert server.state is LogServerState.ACTIVE
        assert server.thread_chat == new_thread
    assert worker_of(app).stats.topics_recreated == 1


async def test_check_again_recreates_a_deleted_topic_and_does_not_say_all_is_well_before(
    app: Application, emulator: BotAPIEmulator, user_key: GeneratedKey
) -> None:
    user = emulator.create_user("Zoe", language_code="en")
    group = await onboard(app, emulator, user, user_key)
    old_thread = topic_named(group, "Billing")
    await user.delete_topic(group, old_thread)
    status = await open_logserver(user)
    await user.press(status, text="Check again", timeout=WAIT)
    answer = await reply_containing(emulator, user, "The group is in order.")
    # The answer names the repair first: it never reports all well with a topic missing.
    assert (answer.text or "").startswith("I created the deleted topics again: Billing.")
    new_thread = topic_named(group, "Billing")
    assert new_thread != old_thread
    assert await service_of(app).record(user.id, RecordKind.BILLING, {"x": 1}) is (
        RecordResult.QUEUED
    )
    posted = await wait_records(app, emulator, group, 3)  # setup, repair setup, billing
    billing = [p for p in posted if p.header.startswith("#billing")]
    assert [p.message.thread_id for p in billing] == [new_thread]


async def test_a_topic_that_cannot_be_made_again_disconnects_and_the_test_record_is_refused(
    app: Application, emulator: BotAPIEmulator, user_key: GeneratedKey
) -> None:
    user = emulator.create_user("Abe", language_code="en")
    group = await onboard(app, emulator, user, user_key)

    async def not_enough_rights(call: Call) -> Any:
        raise bad_request("not enough rights to create a topic")

    original_create = emulator.methods.get("createForumTopic")
    assert original_create is not None
    emulator.override_method("createForumTopic", not_enough_rights)
    await user.delete_topic(group, topic_named(group, "Audit"))
    assert await service_of(app).record(user.id, RecordKind.AUDIT, {"x": 1}) is (
        RecordResult.QUEUED
    )
    await reply_containing(emulator, user, "one of its topics was deleted")
    await wait_state(app, user.id, LogServerState.DISCONNECTED)

    answer = await press_panel(user, emulator, group, PanelAction.TEST)
    assert answer.startswith("Your log server cannot receive records right now.")
    async with app.sessionmaker() as session:
        assert await service_of(app).queued(session, user.id) == 1  # the audit record waits

    # Repaired by "Check again" once the bot may create topics: the waiting record goes out.
    emulator.override_method("createForumTopic", original_create)
    status = await open_logserver(user)
    await user.press(status, text="Check again", timeout=WAIT)
    await reply_containing(emulator, user, "I created the deleted topics again: Audit.")
    await wait_state(app, user.id, LogServerState.ACTIVE)
    audit_thread = topic_named(group, "Audit")
    await emulator.wait_for(
        lambda m: m.from_bot and m.thread_id == audit_thread and "#audit" in (m.text or ""),
        WAIT,
        chat=group,
    )
    await wait_queued(app, user.id, 0)
    answer = await press_panel(user, emulator, group, PanelAction.TEST)
    assert answer.startswith("Test record queued")


# ---------------------------------------------------------------------- the signed head (issue 11)


async def test_the_pinned_panel_carries_the_signed_head_of_the_last_delivered_record(
    emulator: BotAPIEmulator, make_settings: Callable[..., Settings], user_key: GeneratedKey
) -> None:
    async with run_bot(emulator, make_settings(logserver=FAST)) as app:
        user = emulator.create_user("Bea", language_code="en")
        group = await onboard(app, emulator, user, user_key)
        crypto = crypto_of(app)
        lock = ContextLock(crypto.engine, server_certs=crypto.verification_certs)

        def head_at(seq: int) -> Any:
            text = panel_of(emulator, group).text or ""
            head = lock.verify_head(text)
            return head if head is not None and head.seq == seq else None

        head = await emulator.wait_until(lambda: head_at(0), WAIT, what="head after setup")
        assert head.chat_id == group.id
        assert head.signer_fingerprint == normalize_fingerprint(crypto.server_key.fingerprint)
        edits_before = len(emulator.calls_to("editMessageText", ok=True))

        service = service_of(app)
        total = 30
        for n in range(total):
            assert await service.record(user.id, RecordKind.CHAT, {"n": n}) is (RecordResult.QUEUED)
        head = await emulator.wait_until(lambda: head_at(total), WAIT, what="head after burst")
        posted = await wait_records(app, emulator, group, total + 1)
        last = max(open_all(app, user_key, posted), key=lambda r: r.record.seq)
        assert (head.seq, head.digest) == (last.record.seq, last.digest)
        # The panel is the head's last part, after the buttons' text.
        assert (
            (panel_of(emulator, group).text or "").rstrip().endswith("-----END PGP SIGNATURE-----")
        )
        # The edit budget: at most one edit per delivered send (fewer while the queue is busy).
        sends = {p.message.message_id for p in posted[1:]}
        edits = len(emulator.calls_to("editMessageText", ok=True)) - edits_before
        assert 1 <= edits <= len(sends)
        assert not emulator.errors(429)


async def test_a_panel_edit_telegram_cannot_take_now_is_tried_later(
    app: Application, emulator: BotAPIEmulator, user_key: GeneratedKey
) -> None:
    """`show_panel` leaves 429s to the send budget (bot/sendbudget.py); a flood wait longer than
    the budget waits out, a 5xx or a network error means "try later" (False, the panel's head
    not marked shown); a panel that is gone is not worth retrying (True)."""
    user = emulator.create_user("Pat", language_code="en")
    group = await onboard(app, emulator, user, user_key)
    crypto = crypto_of(app)
    lock = ContextLock(crypto.engine, server_certs=crypto.verification_certs)
    await emulator.wait_until(
        lambda: lock.verify_head(panel_of(emulator, group).text or ""), WAIT, what="the head"
    )
    answers = iter(
        [
            too_many_requests(3600),  # beyond the budget's max_retry_wait: it gives up at once
            server_error(502),
            bad_request("message to edit not found"),
        ]
    )

    async def failing(call: Call) -> Any:
        raise next(answers)

    emulator.override_method("editMessageText", failing)
    i18n = app.translator.for_locale("en")
    async with app.sessionmaker() as session:
        server = await session.get(LogServer, user.id)
        assert server is not None
        server.panel_seq = None
        assert await show_panel(app.bot, service_of(app), server, i18n) is False
        assert await show_panel(app.bot, service_of(app), server, i18n) is False
        assert server.panel_seq is None
        assert await show_panel(app.bot, service_of(app), server, i18n) is True
        assert server.panel_seq is None  # not shown, only not worth another try
    assert app.send_budget.stats.gave_up >= 1


async def test_a_log_moved_to_a_new_group_signs_the_first_seq_it_got_there(
    app: Application, emulator: BotAPIEmulator, user_key: GeneratedKey
) -> None:
    """The chain goes on in the new group; its signed head names the first seq delivered there,
    so the reader tells a moved log (clean) from records cut off the start (a failure)."""
    user = emulator.create_user("Moe", language_code="en")
    old = await onboard(app, emulator, user, user_key)
    service = service_of(app)
    for n in range(3):
        await service.record(user.id, RecordKind.CHAT, {"n": n})
    await wait_records(app, emulator, old, 4)  # seq 0-3
    await wait_queued(app, user.id, 0)

    new = emulator.create_supergroup(user, "Logs, new", is_forum=True)
    await user.add_bot_to_group(new, BOT_RIGHTS)
    report = await check_group(app.bot, new.id, user.id)
    assert report.ok, report
    async with app.sessionmaker() as session:
        await bind_and_continue(
            app.bot,
            session,
            service,
            app.translator.for_locale("en"),
            user.id,
            report,
            settings=app.settings,
        )
    await service.record(user.id, RecordKind.CHAT, {"n": 3})
    posted = await wait_records(app, emulator, new, 2)  # the new group's setup record, seq 5
    crypto = crypto_of(app)
    lock = ContextLock(crypto.engine, server_certs=crypto.verification_certs)

    def head_at(seq: int) -> Any:
        if not new.pinned:
            return None
        head = lock.verify_head(panel_of(emulator, new).text or "")
        return head if head is not None and head.seq == seq else None

    head = await emulator.wait_until(lambda: head_at(5), WAIT, what="the new group's head")
    assert (head.chat_id, head.first) == (new.id, 4)

    # The reader over the new group alone: complete from `first`, nothing cut off.
    found = [
        FoundRecord(
            f"message {p.message.message_id}",
            p.armored,
            p.message.message_id,
            RecordContext(new.id, p.message.thread_id),
        )
        for p in posted
    ]
    panel = (f"message {panel_of(emulator, new).message_id}", panel_of(emulator, new).text or "")
    key = SecretKey.load("key.asc", user_key.secret_armored.encode(), user_key.passphrase)
    result = verify("new", found, lock, [key], heads=[panel], chat_id=new.id)
    assert [r.verified.record.seq for r in result.entries if r.verified] == [4, 5]
    assert result.clean, result.findings
    # The same head without `first` (as if the group had the log from seq 0) misses 0-3.
    signer = ContextLock(crypto.engine, crypto.server_key, crypto.verification_certs)
    unmoved = signer.sign_head(new.id, head.seq, head.digest, head.ts)
    result = verify("new", found, lock, [key], heads=[("panel", unmoved)], chat_id=new.id)
    cut = [(f.kind, f.detail) for f in result.findings]
    assert cut == [(FindingKind.CUT_START, "0-3")]


# ---------------------------------------------------------------------- the Audit topic (issue 11)


def audit_events(
    app: Application, emulator: BotAPIEmulator, group: Chat, keys: list[GeneratedKey]
) -> dict[str, VerifiedRecord]:
    """The Audit records in the group, each decrypted with whichever of `keys` it was sealed to,
    checked to be signed and to belong to the Audit topic it was posted in."""
    crypto = crypto_of(app)
    lock = ContextLock(crypto.engine, server_certs=crypto.verification_certs)
    audit_thread = topic_named(group, "Audit")
    found: dict[str, VerifiedRecord] = {}
    for item in posted_records(emulator, group):
        if not item.header.startswith("#audit"):
            continue
        for key in keys:
            try:
                message = lock.open_message(
                    item.armored,
                    key.secret_armored,
                    key.passphrase,
                    RecordContext(group.id, audit_thread),
                )
            except RecordOpenError:
                continue
            assert message.signer_fingerprint is not None
            for opened in message.items:  # one record, or each record of a document
                assert isinstance(opened, VerifiedRecord), opened
                assert opened.ok, opened.problems
                assert opened.record.kind == "audit"
                assert item.message.thread_id == audit_thread
                found[str(opened.record.body["event"])] = opened
            break
        else:
            raise AssertionError(f"an Audit record none of the keys opens: {item.header}")
    return found


async def test_pause_resume_purge_key_and_language_changes_leave_signed_audit_records(
    app: Application, emulator: BotAPIEmulator, user_key: GeneratedKey
) -> None:
    user = emulator.create_user("Cai", language_code="en")
    group = await onboard(app, emulator, user, user_key)
    await press_panel(user, emulator, group, PanelAction.PAUSE)
    await wait_state(app, user.id, LogServerState.PAUSED)
    await press_panel(user, emulator, group, PanelAction.RESUME)
    await wait_state(app, user.id, LogServerState.ACTIVE)
    await wait_queued(app, user.id, 0)  # delivered and acknowledged: nothing left to purge
    await press_panel(user, emulator, group, PanelAction.PURGE)
    answer = await press_panel(user, emulator, group, PanelAction.PURGE_YES)
    assert answer.startswith("Purged")
    # Each record is sealed when it goes out: wait for these before the key changes.
    await emulator.wait_until(
        lambda: (
            {"paused", "resumed", "purged"} <= set(audit_events(app, emulator, group, [user_key]))
            or None
        ),
        WAIT,
        what="pause, resume and purge in the Audit topic",
    )

    await press_panel(user, emulator, group, PanelAction.ROTATE)
    await reply_containing(emulator, user, "Send me your new")
    new_key = SequoiaEngine().generate_key("New", version=KeyVersion.V4, passphrase="pw2")
    await user.send_text(new_key.info.armored)
    await reply_containing(emulator, user, "Key accepted")
    sent = await user.send_text("/language")
    prompt = await user.wait_reply(timeout=WAIT, after=sent)
    await user.press(
        prompt, data=LanguageCD(action=LanguageAction.SET, locale="ja").pack(), timeout=WAIT
    )

    keys = [user_key, new_key]
    events = await emulator.wait_until(
        lambda: (
            found
            if {"key-changed", "language-changed"}
            <= set(found := audit_events(app, emulator, group, keys))
            else None
        ),
        WAIT,
        what="key and language changes in the Audit topic",
    )
    assert events["purged"].record.body["items"] == 0
    assert events["key-changed"].record.body["fingerprint"] == new_key.info.fingerprint
    assert events["key-changed"].record.body["previous"] == user_key.info.fingerprint
    assert events["language-changed"].record.body["locale"] == "ja"


async def test_disconnect_and_forget_each_leave_a_signed_audit_record_first(
    app: Application, emulator: BotAPIEmulator, user_key: GeneratedKey
) -> None:
    leaver = emulator.create_user("Dov", language_code="en")
    group = await onboard(app, emulator, leaver, user_key)
    await press_panel(leaver, emulator, group, PanelAction.DISCONNECT)
    await press_panel(leaver, emulator, group, PanelAction.DISCONNECT_YES)
    await reply_containing(emulator, leaver, "Log server disconnected")
    assert "disconnected" in audit_events(app, emulator, group, [user_key])
    assert not group.members[emulator.bot_user.id].is_present

    forgetter = emulator.create_user("Eda", language_code="en")
    other = await onboard(app, emulator, forgetter, user_key)
    sent = await forgetter.send_text("/forget")
    question = await forgetter.wait_reply(timeout=WAIT, after=sent)
    await forgetter.press(question, text="Delete", timeout=WAIT)
    await emulator.wait_until(
        lambda: "forget" in audit_events(app, emulator, other, [user_key]) or None,
        WAIT,
        what="the forget record in the Audit topic",
    )

    async def forgotten() -> bool:
        async with app.sessionmaker() as session:
            return await session.get(LogServer, forgetter.id) is None

    await eventually(forgotten, "the log server forgotten after its last record", timeout=WAIT)
