"""The privacy promise end to end, on the real PostgreSQL and Redis.

One scenario through the real bot against the Bot API emulator: onboarding with a log server,
an AI exchange, an API key of the user's own, a Stars payment and admin actions — with unique
canary strings in the messages, the AI reply, the API key, the group's title and id.

* canary: a `pg_dump` of the test database and every key and value under the test's Redis prefix
  (and the application's logs) contain none of the canaries in clear;
* time travel: the clock moves 24 hours (and one purge interval) forward, one purge tick runs,
  and no row of any table the privacy document classes "expires" is left; every Redis key is
  documented and carries a TTL within what the document says (≤ 24 h), so it is gone by then;
  what is documented as kept (the account, the ledger, the payment) is still there.

New features are picked up without editing this file: the tables come from the retention
registry and `Base.metadata`, the keys from the Redis scan.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import pytest
from pydantic import SecretStr
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from bot.app import Application
from bot.db.base import utcnow
from bot.db.models import Base, CreditMovement, User
from bot.db.models.payments import Payment
from bot.db.retention import expires_with, expiry_of
from bot.scheduler import Scheduler
from bot.settings import Settings
from bot.state import RedisState
from keyboards.logserver import REQUEST_GROUP
from services.ai.config import AISettings
from services.crypto import GeneratedKey, KeyVersion
from services.crypto.sequoia_engine import SequoiaEngine
from services.logserver import LogServerSettings
from services.retention.jobs import purge_tick
from tests.emulator.actors import UserActor
from tests.emulator.methods_payments import payments_of
from tests.emulator.server import BotAPIEmulator
from tests.emulator.state import StoredMessage
from tests.fakes.ai_servers import FakeOpenAI, Reply
from tests.harness import run_bot
from tests.integration.privacy_inventory import DOC, parse_redis, redis_pattern_for

ADMIN_ID = 900_000_777
FAST_LOGSERVER = LogServerSettings(
    poll_interval=0.05, backoff_initial=0.05, backoff_max=0.4, request_timeout=5
)
OUR_LOGGERS = ("bot", "services", "handlers", "middlewares", "keyboards", "aiogram")


class Canaries:
    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:12]
        self.message = f"canary-msg-{tag}"
        self.reply = f"canary-reply-{tag}"
        self.api_key = f"sk-canary{tag}{'x' * 24}"
        self.title = f"canary-title-{tag}"
        self.group_id = ""  # set once the group exists

    def all(self) -> dict[str, str]:
        found = {
            "message": self.message,
            "AI reply": self.reply,
            "API key": self.api_key,
            "group title": self.title,
        }
        if self.group_id:
            found["group id"] = self.group_id
        return found


@pytest.fixture
async def fake_openai() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


@pytest.fixture(scope="module")
def user_key() -> GeneratedKey:
    # The key's user id is public (kept in clear, see docs/privacy.md): no canary in it.
    return SequoiaEngine().generate_key("Log reader", version=KeyVersion.V4, passphrase="pw")


@pytest.fixture
def settings(
    pg_url: str,
    real_redis_url: str,
    make_settings: Callable[..., Settings],
    fake_openai: FakeOpenAI,
) -> Settings:
    return make_settings(
        admin_ids=frozenset({ADMIN_ID}),
        throttle_rate=1000.0,
        throttle_burst=1000,  # a 1 s window: within the documented TTL of thr:*
        logserver=FAST_LOGSERVER,
        ai=AISettings(
            openai_api_key=SecretStr("sk-server-key-for-tests-0000000000"),
            openai_base_url=fake_openai.base_url,
        ),
    )


async def bot_says(
    emulator: BotAPIEmulator,
    user: UserActor,
    needle: str,
    since: StoredMessage | None = None,
    timeout: float = 15,
) -> StoredMessage:
    return await emulator.wait_for(
        lambda m: m.from_bot and needle in (m.text or m.caption or ""),
        timeout,
        chat=user.chat,
        since=since,
    )


async def run_scenario(
    app: Application,
    emulator: BotAPIEmulator,
    fake_openai: FakeOpenAI,
    key: GeneratedKey,
    canaries: Canaries,
) -> UserActor:
    user = emulator.create_user("Alice", language_code="en")
    admin = emulator.create_user("Ops", language_code="en", user_id=ADMIN_ID)

    # Onboarding: language, then the log server (group picked in one tap, public key pasted).
    await user.send_text("/start")
    greeting = await user.wait_reply()
    await user.press(greeting, data="lang1:set:en")
    sent = await user.send_text("/logserver")
    await user.wait_reply(after=sent)
    group = emulator.create_supergroup(user, canaries.title, is_forum=True)
    canaries.group_id = str(group.id)
    await user.share_chat(REQUEST_GROUP, group)
    await bot_says(emulator, user, "Now your key")
    await user.send_text(key.info.armored)
    await bot_says(emulator, user, "is ready")

    # An AI exchange, then the user's own API key.
    fake_openai.queue(Reply(text=f"Here you are: {canaries.reply}"))
    sent = await user.send_text(f"Please remember {canaries.message}")
    await bot_says(emulator, user, canaries.reply, since=sent)
    sent = await user.send_text(f"/apikey openai {canaries.api_key}")
    await bot_says(emulator, user, "key works and is stored", since=sent)

    # A Stars payment.
    sent = await user.send_text("/buy")
    menu = await user.wait_reply(after=sent)
    await user.press(menu, data="pay1:buy:small:0")
    invoice = await emulator.wait_for(
        lambda m: m.from_bot and "invoice" in m.data, chat=user.chat, since=menu
    )
    paid = await payments_of(emulator).pay(user, invoice)
    assert paid.ok

    # Admin actions: the panel and the stats screen (both audited).
    sent = await admin.send_text("/admin")
    panel = await admin.wait_reply(after=sent)
    await admin.press(panel, text="📊 Stats" if "📊 Stats" in _labels(panel) else _labels(panel)[0])

    # Let every queued record reach the group and every handler commit.
    await _settle(app)

    # The bot is removed from the group: the next exchange's record waits in the outbox (as
    # ciphertext) for the group to come back, at most 24 hours.
    await user.remove_bot_from_group(group)
    await bot_says(emulator, user, "Your log server is disconnected")
    fake_openai.queue(Reply(text=f"Still here: {canaries.reply}"))
    sent = await user.send_text(f"Once more, {canaries.message}")
    await bot_says(emulator, user, "Still here", since=sent)
    await _settle(app)
    return user


def _labels(message: StoredMessage) -> list[str]:
    return [str(b["text"]) for b in message.inline_buttons]


async def _settle(app: Application) -> None:
    """Wait until the outbox is drained (records delivered) or stops changing."""
    from bot.db.models.logserver import OutboxRecord

    last = -1
    for _ in range(400):
        async with app.sessionmaker() as session:
            queued = int(await session.scalar(select(func.count()).select_from(OutboxRecord)) or 0)
        if queued == 0 or queued == last:
            return
        last = queued
        await asyncio.sleep(0.05)


def pg_dump(database_url: str) -> str:
    url = make_url(database_url)
    result = subprocess.run(
        [
            "pg_dump",
            "--no-owner",
            "-h",
            url.host or "127.0.0.1",
            "-p",
            str(url.port or 5432),
            "-U",
            url.username or "postgres",
            "-d",
            str(url.database),
        ],
        capture_output=True,
        check=True,
        timeout=120,
    )
    return result.stdout.decode("utf-8", errors="replace")


def _raw(value: object) -> bytes:
    """A reply item as bytes. The client has no decode_responses, so items are bytes (None for
    a key gone meanwhile); redis-py types them for either setting, hence the checks."""
    if isinstance(value, bytes):
        return value
    if value is None:
        return b""
    if isinstance(value, str):
        return value.encode()
    raise AssertionError(f"unexpected Redis reply item {value!r}")


async def redis_dump(redis: Redis, prefix: str) -> dict[str, tuple[int, bytes]]:
    """Every key under `prefix`: its TTL (ms; -1 none, -2 gone meanwhile) and its value(s)."""
    out: dict[str, tuple[int, bytes]] = {}
    async for raw in redis.scan_iter(match=prefix + "*", count=500):
        key = raw.decode() if isinstance(raw, bytes) else raw
        kind = _raw(await redis.type(key)).decode()
        parts: list[bytes] = []
        if kind == "string":
            parts.append(_raw(await redis.get(key)))
        elif kind == "hash":
            for field, value in (await redis.hgetall(key)).items():
                parts += [_raw(field), _raw(value)]
        elif kind == "list":
            parts += [_raw(item) for item in await redis.lrange(key, 0, -1)]
        elif kind == "set":
            parts += [_raw(member) for member in await redis.smembers(key)]
        elif kind == "zset":
            # Members only: a score is a timestamp or a counter, never personal.
            parts += [_raw(member) for member in await redis.zrange(key, 0, -1)]
        elif kind == "stream":
            for _, fields in await redis.xrange(key) or []:
                for field, value in (fields or {}).items():
                    parts += [_raw(field), _raw(value)]
        out[key] = (int(await redis.pttl(key)), b"\n".join(parts))
    return out


def leaks(text: str, canaries: Canaries) -> list[str]:
    return [name for name, value in canaries.all().items() if value in text]


def expiring_tables() -> list[str]:
    return [
        t.name
        for t in Base.metadata.sorted_tables
        if expiry_of(t) is not None or expires_with(t) is not None
    ]


async def counts(app: Application, tables: list[str]) -> dict[str, int]:
    out = {}
    async with app.engine.connect() as conn:
        for name in tables:
            table = Base.metadata.tables[name]
            out[name] = int(await conn.scalar(select(func.count()).select_from(table)) or 0)
    return out


async def test_no_canary_in_clear_and_nothing_temporary_survives_24_hours(
    emulator: BotAPIEmulator,
    settings: Settings,
    fake_openai: FakeOpenAI,
    user_key: GeneratedKey,
    caplog: pytest.LogCaptureFixture,
) -> None:
    canaries = Canaries()
    caplog.set_level(logging.DEBUG)
    redis = Redis.from_url(str(settings.redis_url))
    documented_keys = parse_redis(DOC.read_text(encoding="utf-8"))
    try:
        async with run_bot(emulator, settings) as app:
            user = await run_scenario(app, emulator, fake_openai, user_key, canaries)
            # The canaries really went through: the model saw the message, the key was checked.
            bodies = [str(r.body) for r in fake_openai.requests]
            assert any(canaries.message in b for b in bodies)
            assert any(r.api_key == canaries.api_key for r in fake_openai.requests)

            # --- canary: nothing personal in clear, anywhere --------------------------------
            dump = pg_dump(settings.database_url)
            assert "CREATE TABLE public.ai_turns" in dump  # the dump is real
            assert str(user.id) in dump  # ...and has the data (the user id is kept by design)
            assert leaks(dump, canaries) == []
            keys = await redis_dump(redis, settings.redis_prefix)
            assert keys, "the scenario left no Redis key at all: is Redis in use?"
            for key, (_, value) in keys.items():
                text = key + "\n" + value.decode("utf-8", errors="replace")
                assert leaks(text, canaries) == [], key
            logged = "\n".join(
                r.getMessage() for r in caplog.records if r.name.startswith(OUR_LOGGERS)
            )
            assert leaks(logged, canaries) == []

            # --- time travel: 24 h and one purge interval later, one purge tick ----------------
            tables = expiring_tables()
            before = await counts(app, tables)
            for name in ("ai_turns", "ai_usage", "admin_audit_events", "log_outbox"):
                assert before[name] > 0, f"the scenario wrote no {name} row"
            later = utcnow() + timedelta(
                hours=24, seconds=settings.retention.purge_interval_seconds
            )
            scheduler = Scheduler(RedisState(redis, settings.redis_prefix), clock=lambda: later)
            scheduler.add(
                "retention.purge",
                purge_tick,
                every=timedelta(seconds=settings.retention.purge_interval_seconds),
                sessionmaker=app.sessionmaker,
                retention=settings.retention,
                clock=lambda: later,
                redis=redis,
                redis_prefix=settings.redis_prefix,
            )
            assert await scheduler.run("retention.purge") is True
            assert scheduler.status()[0].last_error is None
            after = await counts(app, tables)
            assert after == dict.fromkeys(tables, 0), f"left after 24 h: {after}"

            # Redis: every key is documented and expires within what the document says.
            for key, (ttl_ms, _) in (await redis_dump(redis, settings.redis_prefix)).items():
                short = key.removeprefix(settings.redis_prefix)
                entry = redis_pattern_for(short, documented_keys)
                assert entry is not None, f"Redis key {short!r} is not in docs/privacy.md"
                if ttl_ms == -2:
                    continue  # expired between the scan and the look-up
                assert 0 < ttl_ms <= entry.ttl_seconds * 1000, f"{short}: TTL {ttl_ms} ms"

            # What the document says is kept is still there.
            async with app.sessionmaker() as session:
                kept = await session.get(User, user.id)
                assert kept is not None
                assert kept.credits > 0
                movements = await session.scalar(
                    select(func.count())
                    .select_from(CreditMovement)
                    .where(CreditMovement.user_id == user.id)
                )
                assert movements
                assert await session.scalar(select(Payment.id).where(Payment.user_id == user.id))

            assert leaks(pg_dump(settings.database_url), canaries) == []
    finally:
        await redis.aclose()
