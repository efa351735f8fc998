"""The admin panel end to end: the real application against the Bot API emulator, acting as an
operator and as users, in Japanese and English."""

from __future__ import annotations

import html
import re
import struct
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.app import build
from bot.db.base import utcnow
from bot.db.engine import create_sessionmaker
from bot.db.models import CreditMovement, MovementKind, User, UserStatus
from bot.db.models.admin import AuditEvent, AuditResult, Broadcast, BroadcastStatus
from bot.db.models.payments import Payment
from bot.i18n import Translator
from bot.settings import Settings, SettingsError, load_settings
from keyboards.admin import AdminAction, AdminCD
from services import ledger
from services.admin import stats
from services.admin.config import AdminSettings
from services.admin.service import AdminConfigError
from services.crypto import GENESIS_DIGEST, ContextLock, RecordContext
from services.crypto.sequoia_engine import SequoiaEngine
from tests.e2e.test_payments import buy_pack, has_button
from tests.emulator.actors import UserActor
from tests.emulator.methods_payments import payments_of
from tests.emulator.server import BotAPIEmulator
from tests.emulator.state import Member, StoredMessage
from tests.harness import eventually, run_bot

ADMIN_ID = 900_000_001
LOCALES = ["ja", "en"]
T = Translator()
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_DAY = timedelta(hours=24, seconds=1)


def plain(locale: str, key: str, **args: Any) -> str:
    """A catalogue message as the client shows it (markup removed)."""
    return html.unescape(re.sub(r"<[^>]+>", "", T.get(locale, key, **args)))


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    # The operator walks through many screens quickly: per-user throttling is not under test.
    return make_settings(
        admin_ids=frozenset({ADMIN_ID}), throttle_rate=1000.0, throttle_burst=100_000
    )


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


class Panel:
    """The operator's one panel message, edited in place."""

    def __init__(self, emu: BotAPIEmulator, admin: UserActor, locale: str, message_id: int):
        self.emu = emu
        self.admin = admin
        self.locale = locale
        self.message_id = message_id

    @property
    def current(self) -> StoredMessage:
        return self.emu.chat(self.admin.chat).messages[self.message_id]

    @property
    def text(self) -> str:
        return self.current.text or ""

    def label(self, key: str, **args: Any) -> str:
        return T.get(self.locale, key, **args)

    async def press(self, key: str, **args: Any) -> str | None:
        """Press the button labelled by catalogue `key`; the alert text, if any."""
        pressed = await self.admin.press(self.current, text=self.label(key, **args))
        answer = pressed.answer
        assert answer is not None, f"{key}: the press was not answered"
        return answer.text

    async def shows(self, key: str, **args: Any) -> None:
        expected = plain(self.locale, key, **args)
        await self.emu.wait_until(lambda: expected in self.text, what=f"panel shows {key}")

    async def reply(self, text: str) -> None:
        await self.admin.send_text(text)


async def open_panel(emu: BotAPIEmulator, admin: UserActor, locale: str) -> Panel:
    sent = await admin.send_text("/admin")
    reply = await admin.wait_reply(after=sent)
    assert (reply.text or "").startswith(plain(locale, "admin-menu").split("\n")[0])
    return Panel(emu, admin, locale, reply.message_id)


async def audit_rows(sessions: async_sessionmaker[AsyncSession]) -> list[AuditEvent]:
    async with sessions() as s:
        return list((await s.scalars(select(AuditEvent).order_by(AuditEvent.id))).all())


async def db_user(sessions: async_sessionmaker[AsyncSession], user_id: int) -> User:
    async with sessions() as s:
        user = await s.get(User, user_id)
        assert user is not None
        return user


async def committed_user(
    sessions: async_sessionmaker[AsyncSession], user_id: int, check: Callable[[User], bool]
) -> User:
    """The panel is edited inside the handler, the commit follows it: wait for the commit."""

    async def reached() -> User | None:
        user = await db_user(sessions, user_id)
        return user if check(user) else None

    return await eventually(reached, f"user {user_id} reaching the expected state")


# ------------------------------------------------------------------------ access


@pytest.mark.parametrize("locale", LOCALES)
async def test_a_non_admin_gets_the_unknown_command_reply_and_is_audited(
    locale: str,
    emulator: BotAPIEmulator,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with run_bot(emulator, settings):
        user = emulator.create_user("Mallory", language_code=locale)
        sent = await user.send_text("/admin")
        reply = await user.wait_reply(after=sent)
        assert reply.text == plain(locale, "error-unknown-command", command="/admin")
        assert reply.inline_buttons == []
        other = await user.send_text("/nosuchcommand")
        unknown = await user.wait_reply(after=other)
        assert (unknown.text or "").replace("/nosuchcommand", "/admin") == reply.text
    events = await audit_rows(sessions)
    assert [(e.actor_id, e.action, e.result) for e in events] == [
        (user.id, "open", AuditResult.DENIED)
    ]


@pytest.mark.parametrize("locale", LOCALES)
async def test_forged_admin_callbacks_do_nothing_and_are_audited(
    locale: str,
    emulator: BotAPIEmulator,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with run_bot(emulator, settings):
        victim = emulator.create_user("Victim", language_code="ja")
        await victim.send_text("/start")
        await victim.wait_reply()
        mallory = emulator.create_user("Mallory", language_code=locale)
        await mallory.send_text("/start")
        greeting = await mallory.wait_reply()
        forged = [
            AdminCD(action=AdminAction.BAN, arg=victim.id),
            AdminCD(action=AdminAction.GRANT, arg=mallory.id),
            AdminCD(action=AdminAction.CONFIRM, ref="guess"),
            AdminCD(action=AdminAction.STATS),
            AdminCD(action=AdminAction.PURGE),
        ]
        stored = emulator.chat(mallory.chat).messages[greeting.message_id]
        stored.reply_markup = {
            "inline_keyboard": [
                [{"text": f"b{i}", "callback_data": cd.pack()}] for i, cd in enumerate(forged)
            ]
        }
        for i in range(len(forged)):
            press = await mallory.press(stored, text=f"b{i}")
            assert press.answer is not None
            assert press.answer.text == plain(locale, "error-button-expired")
        # Nothing was shown to Mallory but the answers: no panel, no edit.
        assert emulator.chat(mallory.chat).messages[greeting.message_id].edits == []
        assert emulator.calls_to("sendPhoto") == []
    assert (await db_user(sessions, victim.id)).status is UserStatus.ACTIVE
    assert (await db_user(sessions, mallory.id)).credits == 0
    events = await audit_rows(sessions)
    assert len(events) == len(forged)
    assert {(e.actor_id, e.action, e.result) for e in events} == {
        (mallory.id, "callback", AuditResult.DENIED)
    }
    assert {e.target for e in events} == {
        f"ban:{victim.id}",
        f"grant:{mallory.id}",
        "confirm:0",
        "stats:0",
        "purge:0",
    }
    assert all(e.expires_at <= utcnow().replace(microsecond=0) + _DAY for e in events)


# ------------------------------------------------------------------------ every button


@pytest.mark.parametrize("locale", LOCALES)
async def test_every_panel_path(
    locale: str,
    emulator: BotAPIEmulator,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with run_bot(emulator, settings) as app:
        target = emulator.create_user("Taro", username="Taro_Test", language_code="ja")
        await target.send_text("/start")
        greeting = await target.wait_reply()
        admin = emulator.create_user("Ops", language_code=locale, user_id=ADMIN_ID)
        panel = await open_panel(emulator, admin, locale)
        menu_id = panel.message_id
        ports = app.dispatcher.workflow_data["admin"].ports

        # Stats, chart, back.
        await panel.press("admin-btn-stats")
        await emulator.wait_until(
            lambda: plain(locale, "admin-stats").split("\n")[0] in panel.text, what="stats"
        )
        first_line = plain(locale, "admin-stats", total=2, new=2).split("\n")[1]
        assert first_line in panel.text
        await panel.press("admin-btn-chart")
        photo = await emulator.wait_for(lambda m: "photo" in m.data, chat=admin.chat)
        content = emulator.state.files[photo.data["photo"][-1]["file_id"]].content
        assert content.startswith(PNG_SIGNATURE)
        width, height = struct.unpack(">II", content[16:24])
        assert (width, height) == (800, 400)
        assert photo.caption is not None
        # Nobody has paid yet: the revenue series is there, all zero.
        assert photo.caption == plain(
            locale, "admin-chart-caption", days=30, active=2, peak=2, revenue=0
        )
        await panel.press("admin-btn-back")
        await panel.shows("admin-menu")

        # Users: malformed, unknown, then by @username (case does not matter).
        await panel.press("admin-btn-users")
        await panel.shows("admin-users-prompt")
        await panel.reply("not a user!")
        await panel.shows("admin-lookup-malformed")
        await panel.reply("123")
        await panel.shows("admin-lookup-not-found")
        await panel.reply("@taro_test")
        await emulator.wait_until(lambda: str(target.id) in panel.text, what="user card")
        today = utcnow().strftime("%Y-%m-%d")
        assert panel.text == plain(
            locale,
            "admin-card",
            id=str(target.id),
            # Taro never chose: the card shows the language the bot speaks to him
            lang=plain(locale, "admin-card-lang-derived", lang="ja"),
            joined=today,
            seen=today,
            balance=0,
            status=plain(locale, "admin-status-active"),
            role="user",
            subscription=plain(locale, "admin-card-none"),
            logserver=plain(locale, "admin-no"),
        )

        # Grant: a wrong amount, then 100, confirmed.
        await panel.press("admin-btn-grant")
        await panel.shows("admin-grant-prompt", id=str(target.id), balance=0)
        await panel.reply("many")
        await panel.shows("admin-amount-invalid")
        await panel.reply("100")
        await panel.shows("admin-confirm-grant", id=str(target.id), amount=100, before=0, after=100)
        confirm_data = panel.current.button(text=panel.label("admin-btn-confirm"))["callback_data"]
        await panel.press("admin-btn-confirm")
        await panel.shows("admin-granted", amount=100, balance=100)
        # The same confirmation pressed again (an old keyboard) does nothing.
        card_markup = panel.current.reply_markup
        panel.current.reply_markup = {
            "inline_keyboard": [[{"text": "again", "callback_data": confirm_data}]]
        }
        again = await admin.press(panel.current, text="again")
        assert again.answer is not None
        assert again.answer.text == plain(locale, "admin-confirm-stale")
        await committed_user(sessions, target.id, lambda u: u.credits == 100)
        panel.current.reply_markup = card_markup
        await panel.press("admin-btn-another-user")
        await panel.reply("@TARO_TEST")
        await emulator.wait_until(
            lambda: plain(locale, "admin-btn-deduct") in str(panel.current.reply_markup),
            what="card again",
        )

        # Deduct: more than the balance is refused; 30 is confirmed; cancel goes back.
        await panel.press("admin-btn-deduct")
        await panel.reply("500")
        await panel.shows("admin-deduct-too-much", balance=100, amount=500)
        await panel.reply("30")
        await panel.shows(
            "admin-confirm-deduct", id=str(target.id), amount=30, before=100, after=70
        )
        await panel.press("admin-btn-confirm")
        await panel.shows("admin-deducted", amount=30, balance=70)
        await committed_user(sessions, target.id, lambda u: u.credits == 70)
        async with sessions() as s:
            moves = (
                await s.execute(
                    select(CreditMovement.kind, CreditMovement.delta).where(
                        CreditMovement.user_id == target.id
                    )
                )
            ).all()
        assert sorted(moves) == [(MovementKind.DEDUCT, -30), (MovementKind.GRANT, 100)]

        # Ban (with confirmation; cancel first), the banned user's view, unban.
        await panel.press("admin-btn-ban")
        await panel.shows("admin-confirm-ban", id=str(target.id))
        await panel.press("admin-btn-cancel")
        await panel.shows("admin-status-active")
        await panel.press("admin-btn-ban")
        await panel.press("admin-btn-confirm")
        await panel.shows("admin-banned")
        await committed_user(sessions, target.id, lambda u: u.status is UserStatus.BANNED)
        sent = await target.send_text("hello")
        notice = await target.wait_reply(after=sent)
        assert notice.text == plain("ja", "ban-notice")
        sent = await target.send_text("/help")
        notice = await target.wait_reply(after=sent)
        assert notice.text == plain("ja", "ban-notice")
        press = await target.press(greeting, text="English")
        assert press.answer is not None
        assert press.answer.text == plain("ja", "ban-notice")
        assert press.answer.show_alert
        await panel.press("admin-btn-unban")
        await panel.shows("admin-unbanned")
        await committed_user(sessions, target.id, lambda u: u.status is UserStatus.ACTIVE)
        sent = await target.send_text("/help")
        helped = await target.wait_reply(after=sent)
        assert helped.text != plain("ja", "ban-notice")

        # Another user, then back to the menu.
        await panel.press("admin-btn-another-user")
        await panel.shows("admin-users-prompt")
        await panel.press("admin-btn-back")
        await panel.shows("admin-menu")

        # Payments (none yet; paging and refunds: test_payments_page_and_refund).
        await panel.press("admin-btn-payments")
        await panel.shows("admin-payments-empty")
        await panel.press("admin-btn-back")
        await panel.shows("admin-menu")

        # System, purge with cancel and with confirmation.
        await panel.press("admin-btn-system")
        await emulator.wait_until(
            lambda: plain(locale, "admin-system").split("\n")[0] in panel.text, what="system"
        )
        assert f"{plain(locale, 'admin-ok')}" in panel.text
        assert "retention.purge" in panel.text
        await panel.press("admin-btn-purge")
        await panel.shows("admin-confirm-purge")
        await panel.press("admin-btn-cancel")
        await emulator.wait_until(lambda: "retention.purge" in panel.text, what="system again")
        await panel.press("admin-btn-purge")
        await panel.press("admin-btn-confirm")
        purged = re.compile(
            re.escape(plain(locale, "admin-purged", count=999)).replace("999", r"\d+")
        )
        await emulator.wait_until(lambda: purged.search(panel.text), what="purged")
        await panel.press("admin-btn-back")
        await panel.shows("admin-menu")

        # Broadcast: a document is refused, formatted text previewed, days prompt, confirm.
        await panel.press("admin-btn-broadcast")
        await panel.shows("admin-bc-prompt", limit=3500)
        await admin.send_document(b"x", "x.txt")
        await panel.shows("admin-bc-text-only")
        bold = {"type": "bold", "offset": 0, "length": 3}
        admin._post({"text": "Big news today", "entities": [bold]}, None, None, None)
        await panel.shows("admin-bc-preview", text="Big news today")
        await panel.press("admin-btn-aud-days")
        await panel.shows("admin-days-prompt", max=365)
        await panel.reply("0")
        await panel.shows("admin-days-invalid", max=365)
        await panel.reply("7")
        await panel.shows(
            "admin-bc-confirm",
            audience=plain(locale, "admin-aud-active", days=7),
            count=2,
            rate=21,
            text="Big news today",
        )
        await panel.press("admin-btn-cancel")
        await panel.shows("admin-bc-preview", text="Big news today")
        await panel.press("admin-btn-aud-en")
        english = plain(locale, "admin-aud-locale", lang="en")
        if locale == "ja":
            await panel.shows("admin-bc-nobody", audience=english)
        else:
            # the operator's Telegram app is in English: they are counted as English
            await panel.shows(
                "admin-bc-confirm", audience=english, count=1, rate=21, text="Big news today"
            )
            await panel.press("admin-btn-cancel")
            await panel.shows("admin-bc-preview", text="Big news today")
        await panel.press("admin-btn-aud-all")
        await panel.shows(
            "admin-bc-confirm",
            audience=plain(locale, "admin-aud-all"),
            count=2,
            rate=21,
            text="Big news today",
        )
        await panel.press("admin-btn-confirm")
        await panel.shows("admin-bc-started", id="1", count=2)
        delivered = await emulator.wait_for(
            lambda m: m.text == "Big news today", chat=target.chat, timeout=15
        )
        assert delivered.entities == [bold]
        report = await emulator.wait_for(
            lambda m: (
                m.from_bot
                and (m.text or "").startswith(
                    plain(locale, "admin-bc-report", id="1").split("\n")[0]
                )
            ),
            chat=admin.chat,
            timeout=15,
        )
        await emulator.wait_until(
            lambda: (
                plain(locale, "admin-bc-report", id="1", sent=2, blocked=0, failed=0, total=2)
                in (emulator.chat(admin.chat).messages[report.message_id].text or "")
            ),
            what="final report",
        )
        assert panel.message_id == menu_id  # one panel message, edited in place throughout

    async with sessions() as s:
        bc = await s.scalar(select(Broadcast))
        assert bc is not None
        assert bc.status is BroadcastStatus.DONE
    events = await audit_rows(sessions)
    done = Counter((e.action, e.result) for e in events if e.actor_id == ADMIN_ID)
    for action in (
        "open",
        "stats",
        "chart",
        "lookup",
        "view-user",
        "grant",
        "deduct",
        "ban",
        "unban",
        "system",
        "purge",
        "broadcast",
        "broadcast-done",
    ):
        assert done[(action, AuditResult.OK)] >= 1, action
    assert done[("lookup", AuditResult.FAILED)] == 2
    assert all(e.actor_id in (ADMIN_ID,) for e in events)
    # The chart's data: today counts both people once, the other days nobody.
    async with sessions() as s:
        series = await stats.chart_series(s, ports, utcnow(), 30)
    assert len(series.days) == 30
    assert series.days[-1] == utcnow().date()
    assert series.active_users[-1] == 2
    assert sum(series.active_users) == 2
    assert series.revenue == (0,) * 30


# ------------------------------------------------------------------------ broadcast at scale


async def test_broadcast_to_500_respects_limits_and_survives_a_restart(
    emulator: BotAPIEmulator,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    text = "Maintenance tonight"
    admin = emulator.create_user("Ops", language_code="en", user_id=ADMIN_ID)
    recipients = [emulator.create_user(f"U{i}", language_code="ja") for i in range(500)]
    blocked = recipients[::50]  # 10 people who blocked the bot
    now = utcnow()
    async with sessions() as s:
        for actor in recipients:
            actor.user.started_bot = True
            s.add(User(id=actor.id, locale="ja", created_at=now, last_seen_at=now))
        await s.commit()
    for actor in blocked:
        actor.user.blocked_bot = True

    def delivered() -> int:
        return sum(1 for m in emulator.all_messages() if m.from_bot and m.text == text)

    async with run_bot(emulator, settings):
        panel = await open_panel(emulator, admin, "en")
        await panel.press("admin-btn-broadcast")
        await panel.reply(text)
        await panel.shows("admin-bc-preview", text=text)
        # everyone: the 500 and the operator (whose app is in English)
        await panel.press("admin-btn-aud-all")
        await panel.shows(
            "admin-bc-confirm",
            audience=plain("en", "admin-aud-all"),
            count=501,
            rate=21,
            text=text,
        )
        # Telegram's limits from here on (the test clicks faster than any person could).
        emulator.limits.enabled = True
        await panel.press("admin-btn-confirm")
        await emulator.wait_until(lambda: delivered() >= 150, timeout=60, what="150 delivered")
    stopped_at = delivered()
    assert stopped_at < 490, "the restart must happen mid-broadcast"

    async with run_bot(emulator, settings):
        await emulator.wait_until(
            lambda: any(
                (m.text or "").startswith("📣 Broadcast #1 is finished")
                for m in emulator.messages(admin.chat, from_bot=True)
            ),
            timeout=90,
            what="final report",
        )

    assert emulator.errors(429) == []
    per_chat = Counter(m.chat_id for m in emulator.all_messages() if m.from_bot and m.text == text)
    assert max(per_chat.values()) == 1  # nobody got a second copy
    assert set(per_chat) == {a.id for a in recipients} - {a.id for a in blocked} | {ADMIN_ID}
    progress = [
        m
        for m in emulator.messages(admin.chat, from_bot=True)
        if (m.text or "").startswith("📣 Broadcast #1")
    ]
    assert len(progress) == 1  # one progress message, edited in place, across the restart
    assert len(progress[0].edits) >= 3
    assert any(" of 501 handled" in (e.get("text") or "") for e in progress[0].edits)
    assert progress[0].text == plain(
        "en", "admin-bc-report", id="1", sent=491, blocked=10, failed=0, total=501
    )
    async with sessions() as s:
        statuses = dict(
            (
                await s.execute(
                    select(User.id, User.status).where(User.id.in_([a.id for a in blocked]))
                )
            ).all()
        )
    assert set(statuses.values()) == {UserStatus.BLOCKED_BOT}


# ------------------------------------------------------------------------ audit trail


async def test_audit_records_reach_the_operators_group_signed_chained_and_encrypted(
    emulator: BotAPIEmulator,
    make_settings: Callable[..., Settings],
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    engine = SequoiaEngine()
    operators = engine.generate_key("Libral operators", passphrase="operators-pass")
    admin = emulator.create_user("Ops", language_code="en", user_id=ADMIN_ID)
    group = emulator.create_supergroup(admin, "Operators' log")
    # The bot is simply a member of the operators' group (no onboarding involved).
    group.members[emulator.bot_user.id] = Member(emulator.bot_user, "member")
    settings = make_settings(
        admin_ids=frozenset({ADMIN_ID}),
        admin=AdminSettings(log_chat_id=group.id, operator_key=SecretStr(operators.info.armored)),
    )
    async with run_bot(emulator, settings) as app:
        emulator.limits.enabled = True  # about 20 messages a minute into one group
        panel = await open_panel(emulator, admin, "en")
        await panel.press("admin-btn-stats")
        await emulator.wait_until(lambda: panel.text.startswith("Stats\n"), what="stats")
        stranger = emulator.create_user("Eve", language_code="en")
        await stranger.send_text("/admin")
        await stranger.wait_reply()

        async def all_posted() -> bool:
            rows = await audit_rows(sessions)
            return len(rows) >= 3 and all(e.posted_at is not None for e in rows)

        await eventually(all_posted, "every audit event posted")
        await emulator.wait_until(
            lambda: emulator.messages(group, from_bot=True) or None, what="records posted"
        )
        posted = emulator.messages(group, from_bot=True)
        certs = app.dispatcher.workflow_data["crypto"].verification_certs
    lock = ContextLock(engine, server_certs=certs)
    prev = GENESIS_DIGEST
    bodies = []
    # Events waiting together share a record; records are chained one after the other.
    for seq, message in enumerate(posted, start=1):
        text = message.text or ""
        assert text.startswith("#audit #d")
        armored = text[text.index("-----BEGIN PGP MESSAGE-----") :]
        opened = lock.open_record(
            armored,
            operators.secret_armored,
            operators.passphrase,
            expected_ctx=RecordContext(chat_id=group.id, thread_id=None),
            prev_digest=prev,
        )
        assert opened.ok, opened.problems
        assert opened.record.kind == "audit"
        assert opened.record.seq == seq
        prev = opened.digest
        bodies.extend(opened.record.body["events"])
    assert [(b["actor"], b["action"], b["result"]) for b in bodies] == [
        (ADMIN_ID, "open", "ok"),
        (ADMIN_ID, "stats", "ok"),
        (stranger.id, "open", "denied"),
    ]
    assert len(posted) <= 3
    assert emulator.errors(429) == []
    events = await audit_rows(sessions)
    assert all(e.posted_at is not None for e in events)
    # Nothing readable reaches the group: only the header and the ciphertext.
    assert all("stats" not in (m.text or "") for m in posted)


def test_a_log_group_without_an_operator_key_is_refused_with_a_readable_error() -> None:
    with pytest.raises(SettingsError, match="ADMIN__OPERATOR_KEY"):
        load_settings(_env_file=None, bot_token="123:abc", admin={"log_chat_id": -1001234})


def test_an_unusable_operator_key_stops_the_build(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(
        admin=AdminSettings(log_chat_id=-1001234, operator_key=SecretStr("not a key"))
    )
    with pytest.raises(AdminConfigError, match="ADMIN__OPERATOR_KEY: not-openpgp"):
        build(settings)


# ------------------------------------------------------------------------ payments


@pytest.mark.parametrize("locale", LOCALES)
async def test_payments_page_and_refund(
    locale: str,
    emulator: BotAPIEmulator,
    make_settings: Callable[..., Settings],
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    settings = make_settings(
        admin_ids=frozenset({ADMIN_ID}),
        throttle_rate=1000.0,
        throttle_burst=100_000,
        admin=AdminSettings(page_size=1),
    )
    stars = payments_of(emulator)
    async with run_bot(emulator, settings) as app:
        buyer = emulator.create_user("Hana", language_code="ja")
        first = await buy_pack(emulator, stars, buyer, "medium")
        second = await buy_pack(emulator, stars, buyer, "small")
        async with sessions() as s:
            rows = (await s.execute(select(Payment.id, Payment.charge_id))).all()
        ids = {charge: pid for pid, charge in rows}
        admin = emulator.create_user("Ops", language_code=locale, user_id=ADMIN_ID)
        panel = await open_panel(emulator, admin, locale)

        # Revenue in the stats and in the chart's data.
        await panel.press("admin-btn-stats")
        await emulator.wait_until(
            lambda: plain(locale, "admin-stats").split("\n")[0] in panel.text, what="stats"
        )
        revenue_line = plain(locale, "admin-stats", revenue_today=250, revenue_30=250).split("\n")[
            4
        ]
        assert revenue_line in panel.text
        ports = app.dispatcher.workflow_data["admin"].ports
        async with sessions() as s:
            series = await stats.chart_series(s, ports, utcnow(), 30)
        assert series.revenue is not None
        assert series.revenue[-1] == 250
        assert sum(series.revenue) == 250
        await panel.press("admin-btn-back")

        # Newest first, one per page; next and previous.
        await panel.press("admin-btn-payments")
        await emulator.wait_until(lambda: f"#{ids[second]}" in panel.text, what="page 1")
        assert f"#{ids[first]}" not in panel.text
        await panel.press("admin-btn-next")
        await emulator.wait_until(lambda: f"#{ids[first]}" in panel.text, what="page 2")
        await panel.press("admin-btn-prev")
        await emulator.wait_until(lambda: f"#{ids[second]}" in panel.text, what="page 1 again")
        await panel.press("admin-btn-next")
        await emulator.wait_until(lambda: f"#{ids[first]}" in panel.text, what="page 2 again")

        # Refund with confirmation: cancel once, then do it.
        refund_label = panel.label("admin-btn-refund", id=str(ids[first]), stars=200)
        refund_data = panel.current.button(text=refund_label)["callback_data"]
        await admin.press(panel.current, text=refund_label)
        await panel.shows("admin-confirm-refund", id=str(ids[first]))
        await panel.press("admin-btn-cancel")
        await emulator.wait_until(lambda: f"#{ids[second]}" in panel.text, what="back to list")
        await panel.press("admin-btn-next")
        await emulator.wait_until(lambda: f"#{ids[first]}" in panel.text, what="page 2")
        await admin.press(panel.current, text=refund_label)
        await panel.press("admin-btn-confirm")
        await panel.shows("admin-refunded", id=str(ids[first]), stars=200, user=str(buyer.id))
        assert stars.refund_calls == {first: 1}

        # The same payment again (an old button): refused, with the reason in words.
        panel.current.reply_markup = {
            "inline_keyboard": [[{"text": "old", "callback_data": refund_data}]]
        }
        await admin.press(panel.current, text="old")
        await panel.press("admin-btn-confirm")
        await panel.shows(
            "admin-refund-refused",
            reason=plain(locale, "admin-refund-reason-already-refunded"),
        )
        assert stars.refund_calls == {first: 1}
    events = await audit_rows(sessions)
    refunds_done = [(e.target, e.result) for e in events if e.action == "refund"]
    assert refunds_done == [
        (f"payment:{ids[first]}", AuditResult.OK),
        (f"payment:{ids[first]}", AuditResult.FAILED),
    ]


async def test_a_banned_user_cannot_pay_an_invoice_sent_before_the_ban(
    emulator: BotAPIEmulator,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    stars = payments_of(emulator)
    async with run_bot(emulator, settings):
        buyer = emulator.create_user("Ken", language_code="en")
        sent = await buyer.send_text("/buy")
        menu = await buyer.wait_reply(after=sent)
        await buyer.press(menu, data="pay1:buy:small:0")
        invoice = await emulator.wait_for(
            lambda m: m.from_bot and "invoice" in m.data, chat=buyer.chat, since=menu
        )
        async with sessions() as s:
            user = await s.get(User, buyer.id)
            assert user is not None
            user.status = UserStatus.BANNED
            await s.commit()
        paid = await stars.pay(buyer, invoice)
        assert paid.ok is False
        assert paid.query is not None
        assert paid.query.error_message == plain("en", "ban-notice")
    assert (await db_user(sessions, buyer.id)).credits == 0


# ------------------------------------------------------------------------ failure paths


@pytest.mark.parametrize("locale", LOCALES)
async def test_failure_paths_answer_clearly(
    locale: str,
    emulator: BotAPIEmulator,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with run_bot(emulator, settings) as app:
        admin = emulator.create_user("Ops", language_code=locale, user_id=ADMIN_ID)
        panel = await open_panel(emulator, admin, locale)

        # Operators cannot be banned (not even by themselves).
        await panel.press("admin-btn-users")
        await panel.reply(str(ADMIN_ID))
        await emulator.wait_until(lambda: str(ADMIN_ID) in panel.text, what="own card")
        assert await panel.press("admin-btn-ban") == plain(locale, "admin-ban-admin-refused")
        await committed_user(sessions, ADMIN_ID, lambda u: u.status is UserStatus.ACTIVE)

        # A card for someone who is not (or no longer) there.
        card_markup = panel.current.reply_markup
        panel.current.reply_markup = {
            "inline_keyboard": [
                [{"text": "gone", "callback_data": AdminCD(action=AdminAction.CARD, arg=5).pack()}]
            ]
        }
        gone = await admin.press(panel.current, text="gone")
        assert gone.answer is not None
        assert gone.answer.text == plain(locale, "admin-lookup-not-found")
        panel.current.reply_markup = card_markup

        # A broadcast text over the limit.
        await panel.press("admin-btn-back")
        await panel.press("admin-btn-broadcast")
        await panel.reply("x" * 3501)
        await panel.shows("admin-bc-too-long", length=3501, limit=3500)
        await panel.press("admin-btn-back")
        await panel.shows("admin-menu")

        # Features that are not wired: disabled buttons with a note; a failing purge is reported.
        ports = app.dispatcher.workflow_data["admin"].ports
        ports.recent_payments = None

        async def failing_purge() -> int:
            raise RuntimeError("purge incomplete: ai_turns")

        ports.purge_now = failing_purge
        await panel.press("admin-btn-system")
        await emulator.wait_until(lambda: "retention.purge" in panel.text, what="system")
        await panel.press("admin-btn-purge")
        await panel.press("admin-btn-confirm")
        await panel.shows("admin-purge-failed")
        ports.purge_now = None
        await panel.press("admin-btn-refresh")
        note = await panel.press("admin-btn-purge-off")
        assert note == plain(locale, "admin-purge-unavailable")
        await panel.press("admin-btn-back")
        await panel.shows("admin-menu")
        # The menu was drawn before payments went away: redraw it.
        await panel.press("admin-btn-stats")
        await panel.press("admin-btn-back")
        note = await panel.press("admin-btn-payments-off")
        assert note == plain(locale, "admin-payments-unavailable")
    events = await audit_rows(sessions)
    outcomes = {(e.action, e.result) for e in events}
    assert ("ban", AuditResult.DENIED) in outcomes
    assert ("purge", AuditResult.FAILED) in outcomes


async def test_the_panel_works_in_webhook_mode(
    emulator: BotAPIEmulator, settings: Settings
) -> None:
    async with run_bot(emulator, settings, "webhook"):
        admin = emulator.create_user("Ops", language_code="ja", user_id=ADMIN_ID)
        panel = await open_panel(emulator, admin, "ja")
        await panel.press("admin-btn-system")
        await emulator.wait_until(lambda: "retention.purge" in panel.text, what="system")
        assert plain("ja", "admin-ok") in panel.text
        await panel.press("admin-btn-back")
        await panel.shows("admin-menu")
        stranger = emulator.create_user("Eve", language_code="ja")
        forged = await stranger.send_text("/start")
        greeting = await stranger.wait_reply(after=forged)
        emulator.chat(stranger.chat).messages[greeting.message_id].reply_markup = {
            "inline_keyboard": [
                [{"text": "x", "callback_data": AdminCD(action=AdminAction.SYSTEM).pack()}]
            ]
        }
        press = await stranger.press(greeting, text="x")
        assert press.answer is not None
        assert press.answer.text == plain("ja", "error-button-expired")


async def test_a_deduction_confirmed_after_the_balance_fell_is_refused(
    emulator: BotAPIEmulator,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with run_bot(emulator, settings):
        target = emulator.create_user("Jiro", language_code="en")
        await target.send_text("/start")
        await target.wait_reply()
        async with sessions() as s:
            await ledger.apply_movement(s, target.id, 100, MovementKind.GRANT, "seed")
            await s.commit()
        admin = emulator.create_user("Ops", language_code="en", user_id=ADMIN_ID)
        panel = await open_panel(emulator, admin, "en")
        await panel.press("admin-btn-users")
        await panel.reply(str(target.id))
        await emulator.wait_until(lambda: str(target.id) in panel.text, what="card")
        await panel.press("admin-btn-deduct")
        await panel.reply("80")
        await panel.shows(
            "admin-confirm-deduct", id=str(target.id), amount=80, before=100, after=20
        )
        # Meanwhile the user spends most of the balance.
        async with sessions() as s:
            await ledger.apply_movement(s, target.id, -50, MovementKind.USAGE, "reply-1")
            await s.commit()
        await panel.press("admin-btn-confirm")
        await panel.shows("admin-deduct-too-much", balance=50, amount=80)
    assert (await db_user(sessions, target.id)).credits == 50
    events = await audit_rows(sessions)
    assert ("deduct", AuditResult.FAILED) in {(e.action, e.result) for e in events}


@pytest.mark.parametrize("locale", LOCALES)
async def test_payments_that_need_a_person_and_an_admin_refund_told_to_both(
    locale: str,
    emulator: BotAPIEmulator,
    make_settings: Callable[..., Settings],
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Issue 13: the attention list shows a refund request left to an operator, a charge off
    the catalogue (recorded, not credited) and one credited by reconciliation; an admin refund
    reports its shortfall to the operator and is told to the user."""
    from services.payments import jobs
    from services.payments.catalogue import Item, ItemKind
    from services.payments.config import PaymentsSettings
    from tests.emulator.methods_payments import Charge

    settings = make_settings(
        admin_ids=frozenset({ADMIN_ID}),
        throttle_rate=1000.0,
        throttle_burst=100_000,
        payments=PaymentsSettings(auto_refund_hours=0),  # every user request goes to a person
    )
    stars = payments_of(emulator)
    pack = Item(ItemKind.PACK, "small", 50, 500)
    async with run_bot(emulator, settings) as app:
        buyer = emulator.create_user("Nao", language_code="ja")
        charge = await buy_pack(emulator, stars, buyer, "small")
        sent = await buyer.send_text("/paysupport")
        support = await buyer.wait_reply(after=sent)
        await buyer.press(support, data=support.inline_buttons[0]["callback_data"])
        stored = emulator.chat(buyer.chat).messages[support.message_id]
        await emulator.wait_until(lambda: has_button(stored, T.get("ja", "pay-refund-yes")))
        await buyer.press(stored, text=T.get("ja", "pay-refund-yes"))
        manual = T.get("ja", "pay-refund-refused-manual-only")
        await emulator.wait_until(lambda: stored.text == manual or None)
        # A charge of 0 Stars (off the catalogue) and one that never reached us.
        message, _ = stars._service_message(
            buyer.id,
            {
                "successful_payment": {
                    "currency": "XTR",
                    "total_amount": 0,
                    "invoice_payload": pack.payload,
                    "telegram_payment_charge_id": "stxZeroStars",
                    "provider_payment_charge_id": "stxZeroStars",
                }
            },
        )
        await buyer.wait_reply(after=message)
        stars._record_charge(
            Charge("stxNeverCame", buyer.id, 50, pack.payload, emulator.clock.timestamp()), None
        )
        payments = app.dispatcher["payments"]
        await jobs.reconcile_tick(
            app.sessionmaker,
            app.bot,
            catalogue=payments.catalogue,
            billing=payments.billing,
            notify=app.dispatcher["log_delivery"].notify,
        )
        # 1,000 credited (the pack, the reconciled charge); 800 spent: a refund of the pack can
        # take back only 200, 300 short.
        async with sessions() as s:
            await ledger.apply_movement(s, buyer.id, -800, MovementKind.USAGE, ref="spent")
            await s.commit()
            ids = dict((await s.execute(select(Payment.charge_id, Payment.id))).tuples().all())

        admin = emulator.create_user("Ops", language_code=locale, user_id=ADMIN_ID)
        panel = await open_panel(emulator, admin, locale)
        await panel.press("admin-btn-attention")
        await panel.shows("admin-attention", lines="")
        for charge_id, reason, detail in [
            (charge, "refund-requested", ""),
            ("stxZeroStars", "flagged", "amount"),
            ("stxNeverCame", "reconciled", ""),
        ]:
            line = plain(
                locale,
                "admin-attention-line",
                id=str(ids[charge_id]),
                user=str(buyer.id),
                stars=0 if charge_id == "stxZeroStars" else 50,
                date="",
                reason=plain(locale, f"admin-attention-{reason}", detail=detail),
            )
            head, tail = line.split(" ", 1)[0], line.rsplit(": ", 1)[-1]
            assert any(
                row.startswith(head) and row.endswith(tail) for row in panel.text.split("\n")
            ), (charge_id, panel.text)
        refund_label = panel.label("admin-btn-refund", id=str(ids[charge]), stars=50)
        labels = [b["text"] for b in panel.current.inline_buttons]
        assert refund_label in labels
        # Refundable: the request and the flagged charge (the reconciled one is settled).
        assert len([t for t in labels if t != panel.label("admin-btn-back")]) == 3

        last = emulator.messages(buyer.chat, from_bot=True)[-1]
        await admin.press(panel.current, text=refund_label)
        await panel.shows("admin-confirm-refund", id=str(ids[charge]))
        await panel.press("admin-btn-confirm")
        await panel.shows("admin-refunded", id=str(ids[charge]), stars=50, user=str(buyer.id))
        await panel.shows("admin-refund-shortfall", shortfall=300)
        await panel.shows("admin-refund-user-told")
        told = await emulator.wait_for(
            lambda m: m.from_bot, chat=buyer.chat, since=last, timeout=10
        )
        # The buyer chose no language: the default, as for every notice not a reply.
        assert told.text == T.get(
            T.resolve_locale(None), "pay-refunded-by-admin", stars=50, reversed=200, balance=0
        )
        assert stars.refund_calls == {charge: 1}


async def test_a_broadcast_at_the_limit_is_previewed_and_confirmed_in_full(
    emulator: BotAPIEmulator, settings: Settings
) -> None:
    # 3,500 characters is allowed: the operator must see all of it before sending, never the
    # "{???}" Fluent puts in place of an inserted value over 2,500 characters.
    text = ("Long news. " * 400)[:3499] + "!"
    async with run_bot(emulator, settings):
        admin = emulator.create_user("Ops", language_code="en", user_id=ADMIN_ID)
        panel = await open_panel(emulator, admin, "en")
        await panel.press("admin-btn-broadcast")
        await panel.shows("admin-bc-prompt", limit=3500)
        await panel.reply(text)
        await emulator.wait_until(lambda: "Choose who receives it." in panel.text, what="preview")
        assert text in panel.text
        assert "{???}" not in panel.text
        await panel.press("admin-btn-aud-all")
        await emulator.wait_until(lambda: "Send it?" in panel.text, what="confirmation")
        assert text in panel.text
        assert "{???}" not in panel.text


async def test_a_user_who_never_chose_a_language_counts_in_the_language_they_see(
    emulator: BotAPIEmulator, settings: Settings
) -> None:
    async with run_bot(emulator, settings):
        # The Telegram app is in English: the bot speaks English to Ann without her choosing.
        ann = emulator.create_user("Ann", language_code="en-GB")
        sent = await ann.send_text("/help")
        assert "How to use Libral" in ((await ann.wait_reply(after=sent)).text or "")
        admin = emulator.create_user("Ops", language_code="en", user_id=ADMIN_ID)
        panel = await open_panel(emulator, admin, "en")

        await panel.press("admin-btn-users")
        await panel.reply(str(ann.id))
        await emulator.wait_until(lambda: str(ann.id) in panel.text, what="Ann's card")
        assert plain("en", "admin-card-lang-derived", lang="en") in panel.text
        await panel.press("admin-btn-back")
        await panel.shows("admin-menu")

        await panel.press("admin-btn-broadcast")
        await panel.reply("News")
        await panel.shows("admin-bc-preview", text="News")
        await panel.press("admin-btn-aud-en")
        # Ann and the operator (whose app is in English too); nobody is counted as Japanese.
        await panel.shows(
            "admin-bc-confirm",
            audience=plain("en", "admin-aud-locale", lang="en"),
            count=2,
            rate=21,
            text="News",
        )
        await panel.press("admin-btn-cancel")
        await panel.press("admin-btn-aud-ja")
        await panel.shows("admin-bc-nobody", audience=plain("en", "admin-aud-locale", lang="ja"))
