"""Issue 13: a charge Telegram made is credited exactly once under a real fault, and the user is
told the truth ("received; credits on the way", then the receipt), never to pay again.

The faults are real, on real PostgreSQL: the test holds a table lock from its own connection so
that the handler's statement waits at a known step, then either terminates that backend
(`pg_terminate_backend`: the connection dies inside the payment handler) or SIGKILLs the whole
bot process (a separate interpreter, `tests/e2e/pay_crash_child.py`). Nothing of ours is mocked.
Recovery is Telegram's redelivery of the same update, or the reconciliation job
(`getStarTransactions`).
"""

from __future__ import annotations

import asyncio
import os
import pickle
import signal
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.app import Application
from bot.db.engine import create_engine
from bot.db.models import CreditMovement, MovementKind, User
from bot.db.models.payments import ChargeFlag, ChargeSource, Payment
from bot.i18n import Translator
from bot.settings import Settings
from services.payments import jobs, reconcile
from services.payments.catalogue import Item, ItemKind
from tests.e2e.test_payments import assert_reconciled, balance_of, bot_message_after, open_buy
from tests.emulator.actors import UserActor
from tests.emulator.methods_payments import Charge, StarsWorld, payments_of
from tests.emulator.server import BotAPIEmulator
from tests.emulator.state import StoredMessage
from tests.harness import eventually, run_bot, settings_for

T = Translator()
EN = T.for_locale("en")
REPO = Path(__file__).resolve().parents[2]
WAIT = 60.0
RECEIPT = "500 credits added"


@asynccontextmanager
async def held_lock(engine: AsyncEngine, table: str) -> AsyncIterator[AsyncConnection]:
    """Block every INSERT into `table` (SELECTs still run) until the block exits."""
    async with engine.connect() as conn:
        await conn.execute(text(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE"))
        try:
            yield conn
        finally:
            await conn.rollback()


async def waiting_insert(engine: AsyncEngine, table: str) -> int:
    """The pid of the backend whose INSERT into `table` waits on our lock."""

    async def waiting() -> int | None:
        async with engine.connect() as conn:
            pid = await conn.scalar(
                text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock' AND query ILIKE :q"
                ),
                {"q": f"INSERT INTO {table}%"},
            )
        return None if pid is None else int(pid)

    return await eventually(waiting, f"an INSERT into {table} waiting", timeout=WAIT)


async def counts(engine: AsyncEngine, user_id: int) -> tuple[int, int]:
    """(payments, purchase movements) of this user."""
    async with engine.connect() as conn:
        payments = await conn.scalar(
            select(func.count()).select_from(Payment).where(Payment.user_id == user_id)
        )
        movements = await conn.scalar(
            select(func.count())
            .select_from(CreditMovement)
            .where(CreditMovement.user_id == user_id, CreditMovement.kind == MovementKind.PURCHASE)
        )
    return int(payments or 0), int(movements or 0)


def told_in(stored_locale: str | None) -> Callable[..., str]:
    """How a job (no update to answer) speaks to a user: in the language stored for them."""
    return T.for_locale(T.resolve_locale(stored_locale))


def bot_texts(emulator: BotAPIEmulator, user: UserActor, since: StoredMessage) -> list[str]:
    return [
        m.text or ""
        for m in emulator.messages(user.chat, from_bot=True)
        if m.seq > since.seq and "invoice" not in m.data
    ]


def assert_truthful(texts: list[str]) -> None:
    """Never "try again" (it would invite a second payment) after a charge."""
    assert EN("error-generic") not in texts
    assert EN("error-unavailable") not in texts


async def invoice_for(emulator: BotAPIEmulator, user: UserActor) -> StoredMessage:
    menu = await open_buy(emulator, user)
    await user.press(menu, data="pay1:buy:small:0")
    return await bot_message_after(emulator, user, menu, "invoice")


async def redelivered(app: Application, emulator: BotAPIEmulator, update_id: int) -> None:
    """Telegram delivers the same update again; wait until our side has handled it."""
    before = app.metrics.registry.get_sample_value("libral_updates_total", {"type": "message"})
    emulator.updates.redeliver(update_id)

    def done() -> bool:
        now = app.metrics.registry.get_sample_value("libral_updates_total", {"type": "message"})
        return (now or 0) > (before or 0)

    await emulator.wait_until(lambda: done() or None, WAIT, what="redelivery handled")


def settle_job(app: Application) -> Any:
    """The reconciliation job exactly as `bot/app.py` schedules it."""
    payments = app.dispatcher["payments"]
    return jobs.reconcile_tick(
        app.sessionmaker,
        app.bot,
        catalogue=payments.catalogue,
        billing=payments.billing,
        notify=app.dispatcher["log_delivery"].notify,
    )


# -- the connection dies inside the payment handler --------------------------------------------


@pytest.mark.parametrize(
    "table",
    [
        "payments",  # while recording the charge: nothing stored yet
        "credit_movements",  # while crediting: the charge is stored, its credit is not
    ],
)
async def test_connection_killed_inside_the_payment_handler_credits_once(
    emulator: BotAPIEmulator, make_settings: Callable[..., Settings], pg_url: str, table: str
) -> None:
    engine = create_engine(pg_url)
    stars = payments_of(emulator)
    try:
        async with run_bot(emulator, make_settings()) as app:
            user = emulator.create_user("Mio", language_code="en")
            invoice = await invoice_for(emulator, user)
            async with held_lock(engine, table) as conn:
                paid = await stars.pay(user, invoice)
                assert paid.ok
                assert paid.update is not None
                assert paid.message is not None
                pid = await waiting_insert(engine, table)
                assert await conn.scalar(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
            receipt = await emulator.wait_for(
                lambda m: m.from_bot and RECEIPT in (m.text or ""),
                chat=user.chat,
                since=paid.message,
                timeout=WAIT,
            )
            assert "Balance: 500 credits" in (receipt.text or "")
            assert await balance_of(app, user.id) == 500
            # Telegram delivers it again (it may: our side failed once): nothing twice.
            await redelivered(app, emulator, paid.update["update_id"])
            assert await balance_of(app, user.id) == 500
            assert await counts(engine, user.id) == (1, 1)
            texts = bot_texts(emulator, user, paid.message)
            assert_truthful(texts)
            assert [t for t in texts if RECEIPT in t] == [receipt.text]
            assert app.metrics.registry.get_sample_value("libral_errors_total", {"type": "message"})
            await assert_reconciled(app)
    finally:
        await engine.dispose()


# -- kill -9 between Telegram's charge and our commit -------------------------------------------


@pytest.mark.parametrize(
    ("table", "recovery"),
    [
        ("payments", "redelivery"),  # killed before the charge was stored
        ("credit_movements", "reconcile"),  # killed after it was stored, before its credit
    ],
)
async def test_kill_9_between_charge_and_commit_credits_once(
    emulator: BotAPIEmulator,
    make_settings: Callable[..., Settings],
    pg_url: str,
    tmp_path: Path,
    table: str,
    recovery: str,
) -> None:
    settings = make_settings()
    stars = payments_of(emulator)
    engine = create_engine(pg_url)
    async with run_bot(emulator, settings):
        user = emulator.create_user("Sora", language_code="en")
        invoice = await invoice_for(emulator, user)

    settings_file = tmp_path / "settings.pickle"
    settings_file.write_bytes(pickle.dumps(settings_for(emulator, settings, "polling")))
    polls = len(emulator.calls_to("deleteWebhook", ok=True))
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.e2e.pay_crash_child",
        str(settings_file),
        cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        await emulator.wait_until(
            lambda: len(emulator.calls_to("deleteWebhook", ok=True)) > polls or None,
            WAIT,
            what="the bot process polls",
        )
        async with held_lock(engine, table):
            paid = await stars.pay(user, invoice, timeout=WAIT)
            assert paid.ok
            assert paid.update is not None
            assert paid.message is not None
            await waiting_insert(engine, table)
            # Telegram has charged; our commit is waiting: the process dies here.
            child.send_signal(signal.SIGKILL)
            assert await child.wait() == -signal.SIGKILL
        stored = await counts(engine, user.id)
        assert stored == ((0, 0) if table == "payments" else (1, 0))
    finally:
        if child.returncode is None:
            child.send_signal(signal.SIGKILL)
            await child.wait()

    try:
        async with run_bot(emulator, settings) as app:
            if recovery == "redelivery":
                await redelivered(app, emulator, paid.update["update_id"])
                told = await emulator.wait_for(
                    lambda m: m.from_bot and RECEIPT in (m.text or ""),
                    chat=user.chat,
                    since=paid.message,
                    timeout=WAIT,
                )
            else:
                await settle_job(app)
                # Recorded before the kill, credited now: "credited, sorry for the delay".
                notice = told_in(None)("pay-credited-late", stars=50, credits=500, balance=500)
                told = await emulator.wait_for(
                    lambda m: m.from_bot and m.text == notice,
                    chat=user.chat,
                    since=paid.message,
                    timeout=WAIT,
                )
                # In the language stored for the user (none chosen: the default).
                assert told.text == notice
                # The update arrives after all (Telegram redelivers): still once, said once.
                await redelivered(app, emulator, paid.update["update_id"])
            assert await balance_of(app, user.id) == 500
            assert await counts(engine, user.id) == (1, 1)
            texts = bot_texts(emulator, user, paid.message)
            assert_truthful(texts)
            assert texts.count(told.text or "") == 1
            assert len([t for t in texts if RECEIPT in t]) == (recovery == "redelivery")
            await assert_reconciled(app)
    finally:
        await engine.dispose()


# -- a charge that never reached us -------------------------------------------------------------


@pytest.mark.parametrize("language", ["ja", "en"])
async def test_reconciliation_credits_a_charge_never_delivered_and_tells_the_user(
    emulator: BotAPIEmulator, make_settings: Callable[..., Settings], language: str
) -> None:
    stars: StarsWorld = payments_of(emulator)
    pack = Item(ItemKind.PACK, "small", 50, 500)
    forged = Item(ItemKind.PACK, "small", 50, 99_999_999)
    async with run_bot(emulator, make_settings()) as app:
        user = emulator.create_user("Ren", language_code=language)
        start = await user.send_text("/start")
        await user.wait_reply(after=start)
        # Telegram charged twice, and neither update ever arrived; one payload is not ours.
        now = emulator.clock.timestamp()
        stars._record_charge(Charge("stxLost1", user.id, 50, pack.payload, now), None)
        stars._record_charge(Charge("stxLost2", user.id, 50, forged.payload, now), None)
        last = emulator.messages(user.chat, from_bot=True)[-1]
        await settle_job(app)
        await settle_job(app)  # a second run finds nothing left to do
        await emulator.wait_until(
            lambda: len(bot_texts(emulator, user, last)) >= 2 or None, WAIT, what="two notices"
        )
        async with app.sessionmaker() as session:
            stored = await session.get(User, user.id)
            assert stored is not None
        i18n = told_in(stored.locale)
        texts = bot_texts(emulator, user, last)
        assert sorted(texts) == sorted(
            [
                i18n("pay-reconciled", stars=50, credits=500, balance=500),
                i18n("pay-receipt-unknown"),
            ]
        )
        assert await balance_of(app, user.id) == 500
        async with app.sessionmaker() as session:
            rows = {
                p.charge_id: p
                for p in await session.scalars(select(Payment).where(Payment.user_id == user.id))
            }
            report = await reconcile.reconcile(session, app.bot)
        assert rows["stxLost1"].source is ChargeSource.RECONCILE
        assert rows["stxLost1"].credited_at is not None
        assert rows["stxLost2"].flag is not None
        assert rows["stxLost2"].credited_at is None
        assert [(i.kind, i.ref) for i in report.issues] == [
            (reconcile.IssueKind.FLAGGED, "stxLost2")
        ]


# -- charges checked against the catalogue; a long charge id ------------------------------------


@pytest.mark.parametrize("language", ["ja", "en"])
async def test_charges_off_the_catalogue_are_recorded_flagged_and_a_long_charge_id_is_kept(
    emulator: BotAPIEmulator, make_settings: Callable[..., Settings], language: str
) -> None:
    i18n = T.for_locale(language)
    stars = payments_of(emulator)
    pack = Item(ItemKind.PACK, "small", 50, 500)
    # Self-consistent (its fingerprint matches its terms) but not what the catalogue sells.
    greedy = Item(ItemKind.PACK, "small", 50, 99_999_999)
    long_id = "stx" + "L" * 297
    cases = [
        ("stxZero", 0, pack.payload, ChargeFlag.AMOUNT),
        ("stxNegative", -50, pack.payload, ChargeFlag.AMOUNT),
        ("stxGreedy", 50, greedy.payload, ChargeFlag.TERMS),
        ("stxGone", 50, Item(ItemKind.PACK, "gone", 50, 500).payload, ChargeFlag.ITEM),
        (long_id, 50, pack.payload, None),
    ]
    async with run_bot(emulator, make_settings(throttle_burst=1000)) as app:
        user = emulator.create_user("Yui", language_code=language)
        await user.wait_reply(after=await user.send_text("/start"))
        for charge_id, amount, payload, _ in cases:
            message, _update = stars._service_message(
                user.id,
                {
                    "successful_payment": {
                        "currency": "XTR",
                        "total_amount": amount,
                        "invoice_payload": payload,
                        "telegram_payment_charge_id": charge_id,
                        "provider_payment_charge_id": charge_id,
                    }
                },
            )
            reply = await bot_message_after(emulator, user, message)
            if charge_id == long_id:
                assert reply.text == i18n("pay-receipt-pack", stars=50, credits=500, balance=500)
            else:
                assert reply.text == i18n("pay-receipt-unknown")
        assert await balance_of(app, user.id) == 500
        async with app.sessionmaker() as session:
            rows = {
                p.charge_id: p
                for p in await session.scalars(select(Payment).where(Payment.user_id == user.id))
            }
        assert {c: (rows[c].flag, rows[c].credits) for c, *_ in cases} == {
            c: (flag, 0 if flag else 500) for c, _, _, flag in cases
        }
        assert rows[long_id].credited_at is not None  # stored whole, all 300 characters


async def test_a_charge_id_too_long_to_key_on_is_answered_not_a_database_error(
    emulator: BotAPIEmulator, make_settings: Callable[..., Settings]
) -> None:
    stars = payments_of(emulator)
    pack = Item(ItemKind.PACK, "small", 50, 500)
    async with run_bot(emulator, make_settings()) as app:
        user = emulator.create_user("Kei", language_code="en")
        await user.wait_reply(after=await user.send_text("/start"))
        message, _update = stars._service_message(
            user.id,
            {
                "successful_payment": {
                    "currency": "XTR",
                    "total_amount": 50,
                    "invoice_payload": pack.payload,
                    "telegram_payment_charge_id": "x" * 5000,  # as listed below
                    "provider_payment_charge_id": "x",
                }
            },
        )
        reply = await bot_message_after(emulator, user, message)
        assert reply.text == EN("pay-receipt-unknown")
        assert not app.metrics.registry.get_sample_value("libral_errors_total", {"type": "message"})
        # Telegram lists it: the job neither fails on it nor guesses; it is reported.
        long_id = "x" * 5000
        stars._record_charge(
            Charge(long_id, user.id, 50, pack.payload, emulator.clock.timestamp()), None
        )
        report = await settle_job(app)
        assert [(i.kind, i.ref) for i in report.issues] == [
            (reconcile.IssueKind.UNKNOWN_AT_US, long_id)
        ]
