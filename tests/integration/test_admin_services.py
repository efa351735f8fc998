"""The admin services against a real database (PostgreSQL when TEST_DATABASE_URL is set) and the
key-value state (Redis when TEST_REDIS_URL is set): activity counts, username hashes, the chart's
series, look-ups, audiences, pacing and the broadcast worker's delivery rules."""

from __future__ import annotations

import os
import struct
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from html import unescape as html_unescape
from typing import Any

import pytest
from aiogram.exceptions import (
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import SendMessage
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.db.base import utcnow
from bot.db.engine import create_sessionmaker
from bot.db.models import User, UserStatus
from bot.db.models.admin import (
    AudienceKind,
    AuditEvent,
    AuditResult,
    Broadcast,
    BroadcastRecipient,
    BroadcastStatus,
    DailyStat,
    RecipientState,
)
from bot.i18n import Translator
from bot.state import KeyValueState, create_state
from services.admin import audit, broadcast, stats
from services.admin.broadcast import Audience, BroadcastWorker
from services.admin.chart import ChartLabels, render_png
from services.admin.config import AdminSettings
from services.admin.identity import ActiveCounter, ActivityRecorder, UsernameHasher, day_start
from services.admin.ports import AdminPorts
from services.admin.users import LookupFailed, LookupReason, find_user, parse_amount
from services.crypto.fields import FieldCipher

NOW = datetime(2026, 11, 22, 15, 0, tzinfo=utcnow().tzinfo)


@pytest.fixture
async def kv(redis_url: str | None, kv_prefix: str) -> AsyncIterator[KeyValueState]:
    state, _ = create_state(redis_url, kv_prefix)
    yield state
    await state.close()


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


def add_user(session: AsyncSession, user_id: int, **values: Any) -> User:
    now = utcnow()
    user = User(id=user_id, created_at=values.pop("created_at", now), **values)
    user.last_seen_at = values.get("last_seen_at", user.created_at)
    session.add(user)
    return user


async def test_activity_counts_each_user_once_a_day_and_keeps_only_a_keyed_hash(
    session: AsyncSession, kv: KeyValueState
) -> None:
    hasher = UsernameHasher(FieldCipher([os.urandom(32)]))
    record = ActivityRecorder(hasher, kv)
    now = utcnow()
    fresh = add_user(session, 1)
    returning = add_user(
        session, 2, created_at=now - timedelta(days=5), last_seen_at=now - timedelta(days=1)
    )
    seen_today = add_user(
        session, 3, created_at=now - timedelta(days=5), last_seen_at=day_start(now)
    )
    await session.flush()
    for _ in range(3):  # several updates of the same day count once
        await record(session, fresh, "Alice_X")
        await record(session, returning, None)
        await record(session, seen_today, "bob")
    today = await session.get(DailyStat, day_start(now).date())
    assert today is not None
    assert today.active_users == 2
    assert fresh.username_hash == hasher("@alice_x") != "alice_x"
    assert len(fresh.username_hash or "") == 64
    assert "alice" not in (fresh.username_hash or "").lower()
    assert returning.username_hash is None
    # A changed or removed username replaces the hash.
    await record(session, fresh, "Alice_Y")
    assert fresh.username_hash == hasher("alice_y")
    await record(session, fresh, None)
    assert fresh.username_hash is None


async def test_active_users_counted_outside_their_transactions_add_up(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    counter = ActiveCounter(sessions)
    for _ in range(7):  # a burst: one write in flight, the others go together in the next
        counter.add()
    await counter.drain()
    counter.add()
    await counter.drain()
    async with sessions() as session:
        today = await session.get(DailyStat, day_start(utcnow()).date())
    assert today is not None
    assert today.active_users == 8


async def test_the_chart_series_is_exactly_the_last_30_days(session: AsyncSession) -> None:
    today = NOW.date()
    for back, count in ((0, 7), (3, 4), (29, 2), (30, 99), (45, 99)):
        session.add(DailyStat(day=today - timedelta(days=back), active_users=count))
    await session.flush()

    async def revenue(_: AsyncSession, since: date) -> dict[date, int]:
        assert since == today - timedelta(days=29)
        return {today: 100, today - timedelta(days=3): 50}

    series = await stats.chart_series(session, AdminPorts(revenue_by_day=revenue), NOW, 30)
    assert series.days[0] == today - timedelta(days=29)
    assert series.days[-1] == today
    assert len(series.days) == 30
    expected_active = [0] * 30
    expected_active[29], expected_active[26], expected_active[0] = 7, 4, 2
    assert list(series.active_users) == expected_active
    expected_revenue = [0] * 30
    expected_revenue[29], expected_revenue[26] = 100, 50
    assert series.revenue is not None
    assert list(series.revenue) == expected_revenue

    labels = ChartLabels(title="30 days", active="active", revenue="Stars")
    png = render_png(series, labels)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert struct.unpack(">II", png[16:24]) == (800, 400)
    without_payments = await stats.chart_series(session, AdminPorts(), NOW, 30)
    assert without_payments.revenue is None
    assert render_png(without_payments, labels).startswith(b"\x89PNG")


async def test_overview_counts(session: AsyncSession) -> None:
    now = utcnow()
    add_user(session, 1)
    add_user(session, 2, created_at=now - timedelta(days=3), last_seen_at=now - timedelta(days=2))
    add_user(session, 3, created_at=now - timedelta(days=30), last_seen_at=now - timedelta(days=20))
    await session.flush()
    o = await stats.overview(session, AdminPorts(), now)
    assert (o.users_total, o.new_today, o.active_24h, o.active_7d) == (3, 1, 1, 2)
    assert o.revenue_today is None
    assert o.usage_today is None
    assert o.log_servers is None
    assert o.queue_depth == 0


async def test_find_user_by_id_or_username_across_a_key_rotation(session: AsyncSession) -> None:
    old_key, new_key = os.urandom(32), os.urandom(32)
    before = UsernameHasher(FieldCipher([old_key]))
    after = UsernameHasher(FieldCipher([new_key, old_key]))
    add_user(session, 42, username_hash=before("Taro"))
    await session.flush()
    assert (await find_user(session, "42", after.candidates)).id == 42
    assert (await find_user(session, "@TARO", after.candidates)).id == 42
    assert (await find_user(session, "taro", after.candidates)).id == 42
    for query, reason in (
        ("@x", LookupReason.MALFORMED),
        ("hello world", LookupReason.MALFORMED),
        ("-5", LookupReason.MALFORMED),
        ("43", LookupReason.NOT_FOUND),
        ("@nobody_here", LookupReason.NOT_FOUND),
    ):
        with pytest.raises(LookupFailed) as failed:
            await find_user(session, query, after.candidates)
        assert failed.value.reason is reason, query


def test_amounts() -> None:
    assert parse_amount("1,000") == 1000
    assert parse_amount(" 5 ") == 5
    for bad in ("0", "-3", "1.5", "ten", "", "99999999999"):
        assert parse_amount(bad) is None, bad


async def test_audiences_skip_banned_and_settle_blocked_at_once(session: AsyncSession) -> None:
    now = utcnow()
    old = now - timedelta(days=40)
    add_user(session, 1, locale="ja")
    add_user(session, 2, locale="en")
    add_user(session, 3)  # no choice yet: the default language (ja)
    add_user(session, 4, locale="ja", status=UserStatus.BANNED)
    add_user(session, 5, locale="en", status=UserStatus.BLOCKED_BOT)
    add_user(session, 6, locale="en", created_at=old, last_seen_at=old)
    await session.flush()

    async def count(audience: Audience) -> int:
        return await broadcast.count_audience(session, audience, now, "ja")

    assert await count(Audience(AudienceKind.ALL)) == 5
    assert await count(Audience(AudienceKind.LOCALE, "ja")) == 2
    assert await count(Audience(AudienceKind.LOCALE, "en")) == 3
    assert await count(Audience(AudienceKind.ACTIVE, "7")) == 4
    assert await count(Audience(AudienceKind.ACTIVE, "60")) == 5

    bc = await broadcast.create(
        session,
        AdminSettings(),
        admin_id=1,
        chat_id=1,
        locale="en",
        text="<b>hi</b>",
        audience=Audience(AudienceKind.ALL),
        default_locale="ja",
    )
    states = dict(
        (
            await session.execute(
                select(BroadcastRecipient.user_id, BroadcastRecipient.state).where(
                    BroadcastRecipient.broadcast_id == bc.id
                )
            )
        ).all()
    )
    assert states == {
        1: RecipientState.PENDING,
        2: RecipientState.PENDING,
        3: RecipientState.PENDING,
        5: RecipientState.BLOCKED,
        6: RecipientState.PENDING,
    }
    assert bc.total == 5
    assert bc.expires_at - bc.created_at == timedelta(hours=24)


class FakeBot:
    """Records sends; scripted failures per chat id."""

    def __init__(self, failures: dict[int, list[Exception]]) -> None:
        self.failures = failures
        self.sent: list[int] = []
        self.edits: list[str] = []
        self._next_id = 1000

    async def send_message(self, chat_id: int, text: str, **_: Any) -> Any:
        scripted = self.failures.get(chat_id)
        if scripted:
            raise scripted.pop(0)
        self.sent.append(chat_id)
        self._next_id += 1
        return type("Sent", (), {"message_id": self._next_id})()

    async def edit_message_text(self, text: str, **_: Any) -> None:
        self.edits.append(text)


def _method() -> SendMessage:
    return SendMessage(chat_id=1, text="x")


async def test_the_worker_delivers_at_most_once_and_settles_every_outcome(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    settings = AdminSettings(progress_every=1)
    async with sessions() as s:
        for uid in range(1, 8):
            add_user(s, uid, locale="ja")
        await s.flush()
        bc = await broadcast.create(
            s,
            settings,
            admin_id=1,
            chat_id=1,
            locale="en",
            text="hello",
            audience=Audience(AudienceKind.ALL),
            default_locale="ja",
        )
        # As if a previous process crashed after claiming user 7: it is never sent again.
        claimed = await s.get(BroadcastRecipient, (bc.id, 7))
        assert claimed is not None
        claimed.state = RecipientState.SENDING
        await s.commit()
        bc_id = bc.id
    bot = FakeBot(
        {
            2: [TelegramForbiddenError(_method(), "Forbidden: bot was blocked by the user")],
            4: [TelegramNetworkError(_method(), "timeout")],
            6: [TelegramServerError(_method(), "Bad Gateway")],
        }
    )
    worker = BroadcastWorker(bot, sessions, Translator(), settings, owner="w1")  # type: ignore[arg-type]
    await worker.tick()
    # 1 is the admin's chat: it also gets the progress message (id 1001) and the broadcast.
    assert sorted(bot.sent) == [1, 1, 3, 5]
    async with sessions() as s:
        states = dict(
            (
                await s.execute(
                    select(BroadcastRecipient.user_id, BroadcastRecipient.state).where(
                        BroadcastRecipient.broadcast_id == bc_id
                    )
                )
            ).all()
        )
        assert states == {
            1: RecipientState.SENT,
            2: RecipientState.BLOCKED,
            3: RecipientState.SENT,
            4: RecipientState.FAILED,  # may have arrived: never sent twice
            5: RecipientState.SENT,
            6: RecipientState.FAILED,  # a 5xx may follow a delivery: not retried either
            7: RecipientState.FAILED,
        }
        blocked = await s.get(User, 2)
        assert blocked is not None
        assert blocked.status is UserStatus.BLOCKED_BOT
        done = await s.get(Broadcast, bc_id)
        assert done is not None
        assert done.status is BroadcastStatus.DONE
        assert done.lease_owner is None
        events = (await s.scalars(select(AuditEvent))).all()
        assert [(e.action, e.target) for e in events] == [("broadcast-done", f"broadcast:{bc_id}")]
    assert bot.edits[-1] == Translator().get(
        "en", "admin-bc-report", id=str(bc_id), sent=3, blocked=1, failed=3, total=7
    )
    # A second round finds nothing to do.
    await worker.tick()
    assert sorted(bot.sent) == [1, 1, 3, 5]


async def test_one_broadcast_is_delivered_by_one_worker_at_a_time(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as s:
        add_user(s, 1)
        await s.flush()
        bc = await broadcast.create(
            s,
            AdminSettings(),
            admin_id=1,
            chat_id=1,
            locale="ja",
            text="x",
            audience=Audience(AudienceKind.ALL),
            default_locale="ja",
        )
        await s.commit()
    first = BroadcastWorker(FakeBot({}), sessions, Translator(), AdminSettings(), owner="a")  # type: ignore[arg-type]
    second = BroadcastWorker(FakeBot({}), sessions, Translator(), AdminSettings(), owner="b")  # type: ignore[arg-type]
    assert await first._lease(bc.id)
    assert not await second._lease(bc.id)
    assert await first._lease(bc.id)  # renewal by the holder
    await first._release(bc.id)
    assert await second._lease(bc.id)


async def test_audit_events_and_broadcast_state_are_gone_within_24_hours(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    from services.retention.purge import purge_expired

    settings = AdminSettings()
    start = utcnow()
    async with sessions() as s:
        add_user(s, 1)
        await s.flush()
        audit.record(s, settings, 1, audit.AuditAction.STATS, AuditResult.OK, now=start)
        await broadcast.create(
            s,
            settings,
            admin_id=1,
            chat_id=1,
            locale="ja",
            text="x",
            audience=Audience(AudienceKind.ALL),
            default_locale="ja",
            now=start,
        )
        await s.commit()
    report = await purge_expired(
        sessions, now=start + timedelta(hours=23, minutes=59), batch_size=1000
    )
    assert report.ok
    async with sessions() as s:
        assert len((await s.scalars(select(AuditEvent))).all()) == 1
        assert len((await s.scalars(select(BroadcastRecipient))).all()) == 1
    report = await purge_expired(sessions, now=start + timedelta(hours=24), batch_size=1000)
    assert report.ok
    async with sessions() as s:
        assert (await s.scalars(select(AuditEvent))).all() == []
        assert (await s.scalars(select(Broadcast))).all() == []
        assert (await s.scalars(select(BroadcastRecipient))).all() == []
        # The account itself stays.
        assert await s.get(User, 1) is not None


async def test_a_broadcast_not_finished_within_its_lifetime_is_stopped_and_reported(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    settings = AdminSettings()
    async with sessions() as s:
        for uid in (1, 2):
            add_user(s, uid)
        await s.flush()
        bc = await broadcast.create(
            s,
            settings,
            admin_id=1,
            chat_id=1,
            locale="ja",
            text="late",
            audience=Audience(AudienceKind.ALL),
            default_locale="ja",
            now=utcnow() - timedelta(hours=25),
        )
        await s.commit()
        bc_id = bc.id
    bot = FakeBot({})
    worker = BroadcastWorker(bot, sessions, Translator(), settings, owner="w")  # type: ignore[arg-type]
    await worker.tick()
    # Only the progress message went out; no recipient got the expired text.
    assert bot.sent == [1]
    async with sessions() as s:
        done = await s.get(Broadcast, bc_id)
        assert done is not None
        assert done.status is BroadcastStatus.EXPIRED
    assert bot.edits[-1] == Translator().get(
        "ja", "admin-bc-expired", id=str(bc_id), sent=0, blocked=0, failed=2, total=2
    )


class PostingBot:
    def __init__(self) -> None:
        self.messages: list[str] = []
        self.documents: list[bytes] = []
        self.fail_next: Exception | None = None

    async def send_message(self, chat_id: int, text: str, **_: Any) -> None:
        if self.fail_next is not None:
            failure, self.fail_next = self.fail_next, None
            raise failure
        self.messages.append(text)

    async def send_document(self, chat_id: int, document: Any, **_: Any) -> None:
        self.documents.append(document.data)


async def test_audit_records_are_coalesced_paced_and_chained(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    from services.admin.audit import AuditPublisher
    from services.crypto import GENESIS_DIGEST, ContextLock, RecordContext, SigningKey
    from services.crypto.sequoia_engine import SequoiaEngine

    engine = SequoiaEngine()
    server = engine.generate_key("server", passphrase="s")
    operators = engine.generate_key("operators", passphrase="o")
    signer = SigningKey(
        fingerprint=server.info.fingerprint,
        public_armored=server.info.armored,
        secret_armored=server.secret_armored,
        passphrase="s",
    )
    clock = [0.0]
    publisher = AuditPublisher(
        ContextLock(engine, signer), operators.info, -100777, clock=lambda: clock[0]
    )
    settings = AdminSettings()
    async with sessions() as s:
        for i in range(25):
            target = f"n:{i}:".ljust(64, "x")
            audit.record(s, settings, 1, audit.AuditAction.STATS, AuditResult.OK, target)
        await s.commit()
    bot = PostingBot()
    assert await publisher.publish_pending(bot, sessions) == 20  # type: ignore[arg-type]
    assert await publisher.publish_pending(bot, sessions) == 0  # type: ignore[arg-type]
    clock[0] += 3.2
    # A 429 the send budget gave up on (it waits out `retry_after` itself): tried again later.
    bot.fail_next = TelegramRetryAfter(_method(), "Too Many Requests: retry after 30", 30)
    assert await publisher.publish_pending(bot, sessions) == 0  # type: ignore[arg-type]
    clock[0] += 3.2
    assert await publisher.publish_pending(bot, sessions) == 5  # type: ignore[arg-type]
    # Twenty events do not fit a message: a document; five do.
    assert len(bot.documents) == 1
    assert len(bot.messages) == 1
    armored = [bot.documents[0].decode(), bot.messages[0][bot.messages[0].index("-----BEGIN") :]]
    armored[1] = html_unescape(armored[1].removesuffix("</pre>"))
    lock = ContextLock(engine, server_certs=[server.info.armored])
    prev, targets = GENESIS_DIGEST, []
    for seq, text in enumerate(armored, start=1):
        opened = lock.open_record(
            text, operators.secret_armored, "o", RecordContext(-100777, None), prev
        )
        assert opened.ok, opened.problems
        assert opened.record.seq == seq
        prev = opened.digest
        targets += [e["target"] for e in opened.record.body["events"]]
    assert targets == [f"n:{i}:".ljust(64, "x") for i in range(25)]
    async with sessions() as s:
        assert all(e.posted_at is not None for e in (await s.scalars(select(AuditEvent))).all())
