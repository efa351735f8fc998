"""Issue 13: three instances behind nginx, proven.

`scripts/run-scale` starts Debian's nginx and three real `python -m bot` processes in webhook mode
on this test's PostgreSQL database and Redis prefix; the Bot API emulator delivers every update
to nginx (several at once, as Telegram does), with Telegram's flood limits on. At the same time:
AI answers streaming (fake OpenAI at HTTP level) into users whose exchanges go to their log
servers, a broadcast from the admin panel, and payments whose `successful_payment` Telegram
delivers again (same update id, and a copy with a new one). One instance is killed with SIGKILL
mid-run. Then: 0 × 429, nobody gets anything twice, nothing is lost, each scheduler tick ran on
one instance only.
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import secrets
import shutil
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.db.base import utcnow
from bot.db.engine import create_sessionmaker
from bot.db.models import CreditMovement, MovementKind, User
from bot.db.models.logserver import OutboxRecord
from bot.db.models.payments import Payment
from keyboards.logserver import REQUEST_GROUP
from services import ledger, users
from services.crypto import GeneratedKey, KeyVersion
from services.crypto.sequoia_engine import SequoiaEngine
from tests.conftest import REQUIRE_SERVICES
from tests.e2e.test_admin import Panel, open_panel
from tests.e2e.test_logserver import open_logserver, posted_records, reply_containing
from tests.emulator.actors import UserActor
from tests.emulator.methods_payments import payments_of
from tests.emulator.server import BotAPIEmulator
from tests.emulator.state import Chat, StoredMessage
from tests.fakes.ai_servers import FakeOpenAI, Reply
from tests.harness import eventually, free_port

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

REPO = Path(__file__).resolve().parents[2]
SERVER_KEY = "sk-server-0123456789abcdef"
ADMIN_ID = 900_000_001
INSTANCES = 3
KILLED = 2  # bot2
RECIPIENTS = 40
AI_USERS = 4
ASKS = 3
PAYERS = 3
LOGGED = 2  # of the AI users, this many have a log server
BROADCAST = "Maintenance tonight, three instances"
PURGE_EVERY = 10  # seconds between the purge job's ticks (its minimum)
# Safety limits only: every wait ends as soon as its condition holds.
WAIT = 90.0
TICK = re.compile(r"^\[bot(\d)\] .*job retention\.purge tick (\d+) started")
SEQS = re.compile(r"seq (\d+)(?:–(\d+))?")


def needs_nginx() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")
    if found is None:
        if REQUIRE_SERVICES:
            pytest.fail("nginx is not installed (apt-get install -y nginx)")
        pytest.skip("needs nginx: apt-get install -y nginx")
    return found


class Cluster:
    """scripts/run-scale as a child process; its output lines collected as they come."""

    def __init__(self, child: asyncio.subprocess.Process) -> None:
        self.child = child
        self.lines: list[str] = []
        self.pids: dict[int, int] = {}
        self.ready = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.child.stdout is not None
        while raw := await self.child.stdout.readline():
            line = raw.decode(errors="replace").rstrip("\n")
            self.lines.append(line)
            if match := re.match(r"^instance (\d+) pid (\d+) port \d+$", line):
                self.pids[int(match[1])] = int(match[2])
            elif line == "READY":
                self.ready.set()

    async def wait_ready(self) -> None:
        waiter = asyncio.create_task(self.ready.wait())
        await asyncio.wait(
            {waiter, self._reader}, timeout=WAIT, return_when=asyncio.FIRST_COMPLETED
        )
        waiter.cancel()
        if not self.ready.is_set():
            tail = "\n".join(self.lines[-40:])
            raise AssertionError(f"the cluster did not start:\n{tail}")

    def kill(self, n: int) -> None:
        os.kill(self.pids[n], signal.SIGKILL)

    def ticks(self) -> list[tuple[int, int]]:
        """(tick, instance) for every run of the purge job, in the order they were logged."""
        found = []
        for line in self.lines:
            if match := TICK.match(line):
                found.append((int(match[2]), int(match[1])))
        return found

    async def stop(self) -> int:
        if self.child.returncode is None:
            self.child.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(self.child.wait(), WAIT)
        await self._reader
        return code


@pytest.fixture
async def openai() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI(valid_keys=[SERVER_KEY]) as fake:
        assert isinstance(fake, FakeOpenAI)
        # Every answer streams for a while: several are in flight on each instance at once.
        fake.default = Reply(pieces=[f"w{i} " for i in range(24)], delay=0.04)
        yield fake


def cluster_env(
    emulator: BotAPIEmulator,
    openai: FakeOpenAI,
    *,
    db_url: str,
    redis_url: str,
    prefix: str,
    port: int,
    tmp_path: Path,
) -> dict[str, str]:
    """Settings as an operator gives them: the environment (no .env is read from the repo)."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "BOT_TOKEN": emulator.token,
        "TELEGRAM_API_URL": emulator.base_url,
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": prefix,
        "WEBHOOK_URL": f"http://127.0.0.1:{port}/webhook",
        "WEBHOOK_SECRET": secrets.token_urlsafe(24),
        "ADMIN_IDS": str(ADMIN_ID),
        "THROTTLE_RATE": "1000",
        "THROTTLE_BURST": "100000",
        "MIGRATE_ON_START": "false",  # the test database is migrated already
        "LOG_LEVEL": "INFO",
        # A killed instance's claims (an update, a broadcast, a log chain) run out soon.
        "UPDATE_LEASE_SECONDS": "6",
        "ADMIN__BROADCAST_LEASE_SECONDS": "6",
        "LOGSERVER__LEASE_SECONDS": "5",
        "LOGSERVER__POLL_INTERVAL": "0.05",
        "LOGSERVER__BACKOFF_INITIAL": "0.05",
        "LOGSERVER__BACKOFF_MAX": "0.4",
        "RETENTION__PURGE_INTERVAL_SECONDS": str(PURGE_EVERY),
        # One master key and GnuPG home for all three, as in production (docker-compose.yml).
        "CRYPTO__MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "CRYPTO__GNUPG_HOME": str(tmp_path / "gnupg"),
        "AI__OPENAI_API_KEY": SERVER_KEY,
        "AI__OPENAI_BASE_URL": openai.base_url,
        "AI__DEFAULT_MODEL": "gpt-4o-mini",
        "AI__FREE_DAILY_CREDITS": "0",
        "AI__RETRY_BASE_DELAY": "0",
        "AI__RETRY_MAX_DELAY": "0",
    }


def finished(message: StoredMessage) -> bool:
    """An AI reply in its final form carries the exclude button."""
    return any(str(b.get("callback_data", "")).startswith("ai1:x:") for b in message.inline_buttons)


async def converse(emulator: BotAPIEmulator, user: UserActor) -> None:
    """ASKS questions, each after the previous answer is complete."""
    for n in range(ASKS):
        sent = await user.send_text(f"Question {n} from {user.id}")

        def answered(sent: StoredMessage = sent) -> bool | None:
            return (
                any(
                    finished(m)
                    for m in emulator.messages(user.chat, from_bot=True)
                    if m.message_id > sent.message_id
                )
                or None
            )

        await emulator.wait_until(answered, WAIT, what=f"answer {n} to {user.id}")


async def buy_and_redeliver(emulator: BotAPIEmulator, user: UserActor) -> str:
    """/buy → pack → invoice → pay → receipt; then Telegram delivers the payment again twice with
    the same update id and once with a new one. Returns the charge id."""
    stars = payments_of(emulator)
    sent = await user.send_text("/buy")
    menu = await user.wait_reply(timeout=WAIT, after=sent)
    await user.press(menu, data="pay1:buy:small:0", timeout=WAIT)
    invoice = await emulator.wait_for(
        lambda m: m.from_bot and "invoice" in m.data, WAIT, chat=user.chat, since=menu
    )
    paid = await stars.pay(user, invoice, timeout=WAIT)
    assert paid.charge_id is not None
    assert paid.update is not None
    assert paid.message is not None
    update_id = paid.update["update_id"]
    emulator.updates.redeliver(update_id)
    emulator.updates.redeliver(update_id)
    copy = emulator.updates.push({"message": dict(paid.update["message"])})
    assert copy is not None

    def answered(uid: int, times: int) -> bool | None:
        ok = [
            a for a in emulator.updates.webhook_attempts if a.update_id == uid and a.status == 200
        ]
        return len(ok) >= times or None

    # A webhook is answered once its update is handled: 200 means handled (or skipped).
    await emulator.wait_until(lambda: answered(update_id, 3), WAIT, what="redeliveries handled")
    await emulator.wait_until(lambda: answered(copy["update_id"], 1), WAIT, what="copy handled")
    return paid.charge_id


async def onboard(emulator: BotAPIEmulator, user: UserActor, key: GeneratedKey) -> Chat:
    """/logserver → pick a forum group → send the public key → ready (the setup record)."""
    await open_logserver(user)
    group = emulator.create_supergroup(user, f"Logs {user.id}", is_forum=True)
    await user.share_chat(REQUEST_GROUP, group)
    await reply_containing(emulator, user, "Now your key")
    await user.send_text(key.info.armored)
    await reply_containing(emulator, user, "is ready")
    await emulator.wait_until(lambda: posted_records(emulator, group) or None, WAIT, what="setup")
    return group


def posted_seqs(emulator: BotAPIEmulator, group: Chat) -> list[int]:
    """Every sequence number the bot posted into the group, from the plaintext headers."""
    seqs: list[int] = []
    for message in emulator.messages(group, from_bot=True):
        header = message.caption if message.document is not None else message.text
        if message.document is None and "BEGIN PGP MESSAGE" not in (header or ""):
            continue  # the pinned panel and other service messages
        match = SEQS.search(header or "")
        assert match is not None, f"no sequence number in {header!r}"
        first = int(match[1])
        last = int(match[2]) if match[2] else first
        seqs.extend(range(first, last + 1))
    return seqs


async def grant(sessions: async_sessionmaker[AsyncSession], user_id: int, credits: int) -> None:
    async with sessions() as session:
        await users.get_or_create(session, user_id)
        await ledger.apply_movement(session, user_id, credits, MovementKind.GRANT)
        await session.commit()


async def test_three_instances_behind_nginx_everything_at_once_one_killed(
    emulator: BotAPIEmulator,
    openai: FakeOpenAI,
    pg_url: str,
    real_redis_url: str,
    kv_prefix: str,
    tmp_path: Path,
    engine: AsyncEngine,
) -> None:
    needs_nginx()
    started = time.monotonic()

    def mark(what: str) -> None:
        # Where the time goes, shown when the test fails (and in docs/performance.md).
        print(f"{time.monotonic() - started:6.1f} s  {what}", flush=True)

    sessions = create_sessionmaker(engine)
    emulator.updates.webhook_parallel = True
    emulator.limits.enabled = True  # Telegram's flood limits, across everything below

    admin = emulator.create_user("Ops", language_code="en", user_id=ADMIN_ID)
    recipients = [emulator.create_user(f"R{i}", language_code="ja") for i in range(RECIPIENTS)]
    talkers = [emulator.create_user(f"A{i}", language_code="en") for i in range(AI_USERS)]
    payers = [emulator.create_user(f"P{i}", language_code="en") for i in range(PAYERS)]
    now = utcnow()
    async with sessions() as s:
        for actor in recipients:
            actor.user.started_bot = True
            s.add(User(id=actor.id, locale="ja", created_at=now, last_seen_at=now))
        await s.commit()
    for actor in talkers:
        await grant(sessions, actor.id, 10_000)
    key = SequoiaEngine().generate_key("Log reader", version=KeyVersion.V4, passphrase="pw")

    port = free_port()
    env = cluster_env(
        emulator,
        openai,
        db_url=pg_url,
        redis_url=real_redis_url,
        prefix=kv_prefix,
        port=port,
        tmp_path=tmp_path,
    )
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        str(REPO / "scripts" / "run-scale"),
        "--instances",
        str(INSTANCES),
        "--port",
        str(port),
        "--workdir",
        str(tmp_path / "nginx"),
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    cluster = Cluster(child)
    mark("cluster started")
    try:
        await cluster.wait_ready()
        mark("ready")
        assert sorted(cluster.pids) == [1, 2, 3]
        assert len(emulator.calls_to("setWebhook", ok=True)) == INSTANCES

        groups = await asyncio.gather(*(onboard(emulator, t, key) for t in talkers[:LOGGED]))
        mark("onboarded")

        def delivered() -> int:
            return sum(1 for m in emulator.all_messages() if m.from_bot and m.text == BROADCAST)

        async def broadcast() -> None:
            panel: Panel = await open_panel(emulator, admin, "en")

            async def press(key: str) -> None:
                label = panel.label(key)
                await emulator.wait_until(
                    lambda: (
                        any(b.get("text") == label for b in panel.current.inline_buttons) or None
                    ),
                    WAIT,
                    what=f"the button {key}",
                )
                pressed = await admin.press(panel.current, text=label, timeout=WAIT)
                assert pressed.answer is not None

            await press("admin-btn-broadcast")
            await panel.reply(BROADCAST)
            await emulator.wait_until(
                lambda: BROADCAST in panel.text or None, WAIT, what="the broadcast preview"
            )
            await press("admin-btn-aud-ja")
            await press("admin-btn-confirm")

        async def kill_mid_run() -> None:
            # Mid-broadcast, with answers streaming and payments being redelivered.
            await emulator.wait_until(lambda: delivered() >= 5 or None, WAIT, what="broadcast")
            cluster.kill(KILLED)

        killed_at: list[float] = []

        async def killer() -> None:
            await kill_mid_run()
            killed_at.append(time.time())

        results = await asyncio.gather(
            broadcast(),
            killer(),
            *(converse(emulator, t) for t in talkers),
            *(buy_and_redeliver(emulator, p) for p in payers),
        )
        charges = [r for r in results if isinstance(r, str)]
        mark("all at once done")

        def report() -> StoredMessage | None:
            for m in emulator.messages(admin.chat, from_bot=True):
                if (m.text or "").startswith("📣 Broadcast #1 is finished"):
                    return m
            return None

        await emulator.wait_until(report, WAIT, what="the broadcast's final report")

        # Every log record delivered: the outboxes are empty.
        async def drained() -> bool:
            async with sessions() as s:
                left = await s.scalar(
                    select(func.count())
                    .select_from(OutboxRecord)
                    .where(OutboxRecord.user_id.in_([t.id for t in talkers[:LOGGED]]))
                )
            return left == 0

        # Each exchange is recorded after its answer went out: wait for the last ones.
        for group in groups:

            def recorded(group: Chat = group) -> bool | None:
                return len(posted_seqs(emulator, group)) >= 1 + ASKS or None

            await emulator.wait_until(recorded, WAIT, what="every exchange's record")
        await eventually(drained, "every log record delivered", timeout=WAIT)
        mark("drained")

        # The scheduler keeps ticking on the survivors (log lines do not wake the emulator's
        # waiters: polled).
        async def ticked_after_kill() -> bool:
            return any(tick * PURGE_EVERY > killed_at[0] for tick, _ in cluster.ticks())

        await eventually(ticked_after_kill, "a purge tick after the kill", timeout=WAIT)
        assert cluster.child.returncode is None, "run-scale stopped"
    finally:
        code = await cluster.stop()
        mark("stopped")
    output = "\n".join(cluster.lines)
    assert code == 0, output[-4000:]
    assert f"bot{KILLED} exited with code -9" in output

    # 0 × 429 across all instances (the emulator answers Telegram's 429 and counts it).
    assert emulator.errors(429) == []

    # Updates cut off by the kill (nginx answered 502, or the connection broke) came back and
    # were handled on a survivor: every update delivered at least once got its 200 in the end.
    attempts = emulator.updates.webhook_attempts
    cut_off = {a.update_id for a in attempts if a.status != 200}
    answered = {a.update_id for a in attempts if a.status == 200}
    assert {a.update_id for a in attempts} == answered
    # What a cut-off attempt had already sent is sent again by the attempt that completes it
    # (docs/architecture.md, "Handled means done"): at most one extra message per cut-off update.
    extra = 0

    # The broadcast: nobody twice. Recipients are claimed one at a time before their message goes
    # out (at most once), so the one in flight on a killed worker, if any, is counted failed in the
    # report and is the only one that may be missing.
    per_chat = Counter(
        m.chat_id for m in emulator.all_messages() if m.from_bot and m.text == BROADCAST
    )
    assert max(per_chat.values()) == 1
    final = report()
    assert final is not None
    failed = re.search(r"failed (\d+)", final.text or "")
    assert failed is not None, final.text
    missing = {a.id for a in recipients} - set(per_chat)
    assert len(missing) <= int(failed[1]) <= 1, (missing, final.text)

    # AI: every question answered, the ones in flight on the killed instance too.
    for talker in talkers:
        finals = [m for m in emulator.messages(talker.chat, from_bot=True) if finished(m)]
        assert len(finals) >= ASKS, [m.text for m in finals]
        extra += len(finals) - ASKS
    # ...and each question charged exactly once, also when it was answered twice (a reply sent
    # by the killed instance before its update was marked done): every reply costs at least a
    # credit here, and the charge is keyed by the prompt.
    async with sessions() as s:
        charges_per_talker = Counter(
            (
                await s.scalars(
                    select(CreditMovement.user_id).where(
                        CreditMovement.kind == MovementKind.USAGE,
                        CreditMovement.user_id.in_([t.id for t in talkers]),
                    )
                )
            ).all()
        )
    assert charges_per_talker == {t.id: ASKS for t in talkers}, charges_per_talker

    # Payments: credited once per charge id, however often and wherever it was delivered.
    async with sessions() as s:
        rows = (await s.scalars(select(Payment).where(Payment.charge_id.in_(charges)))).all()
        assert sorted(p.charge_id for p in rows) == sorted(charges)
        for payer in payers:
            assert await ledger.balance(s, payer.id) == 500
    for payer in payers:
        receipts = [
            m for m in emulator.messages(payer.chat, from_bot=True) if "500" in (m.text or "")
        ]
        assert len(receipts) >= 1
        extra += len(receipts) - 1
    assert extra <= len(cut_off), (extra, cut_off)

    # Log delivery: each record posted once, none missing (a chain from 0 without gaps).
    for group in groups:
        seqs = posted_seqs(emulator, group)
        assert sorted(seqs) == list(range(len(seqs))), seqs
        assert len(seqs) >= 1 + ASKS  # the setup record and one per exchange at least

    # The scheduler: each tick of the purge job ran on one instance only, and went on after the
    # kill on the survivors.
    ticks = cluster.ticks()
    assert ticks, output[-4000:]
    counts = Counter(tick for tick, _ in ticks)
    assert max(counts.values()) == 1, counts
    # Ticks fire at multiples of PURGE_EVERY since the epoch: the killed instance ran none after.
    assert all(tick * PURGE_EVERY <= killed_at[0] for tick, n in ticks if n == KILLED), ticks
