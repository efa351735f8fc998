"""Telegram Stars payments end to end: the real application against the Bot API emulator, with
users who buy packs, subscribe, renew, cancel and ask for refunds; every scenario ends with a
reconciliation of the ledger against Telegram's own transactions."""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import AsyncIterator, Callable

import pytest
from aiogram import Bot
from aiogram.types import LabeledPrice
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import Application
from bot.db.engine import create_engine, create_sessionmaker
from bot.db.models import CreditMovement, MovementKind, User, UserStatus
from bot.db.models.payments import (
    Payment,
    PaymentKind,
    PaymentStatus,
    RefundSource,
    SubscriptionState,
)
from bot.i18n import Translator
from bot.settings import Settings
from services import ledger
from services.payments import history, purchases, reconcile, refunds
from services.payments.catalogue import Catalogue, Item, ItemKind
from services.payments.config import PaymentsSettings
from services.payments.errors import RefundRefusal, RefundRefused
from services.sendbudget import SendBudgetSettings
from tests.emulator.actors import UserActor
from tests.emulator.errors import bad_request
from tests.emulator.methods_payments import Charge, StarsWorld, payments_of
from tests.emulator.registry import Call, registry
from tests.emulator.server import BotAPIEmulator
from tests.emulator.state import StoredMessage
from tests.harness import Mode, eventually, run_bot

T = Translator()


@pytest.fixture(params=["polling"])
async def app(
    request: pytest.FixtureRequest,
    emulator: BotAPIEmulator,
    make_settings: Callable[..., Settings],
) -> AsyncIterator[Application]:
    mode: Mode = request.param
    async with run_bot(emulator, make_settings(), mode) as running:
        yield running


@pytest.fixture
def stars(emulator: BotAPIEmulator) -> StarsWorld:
    return payments_of(emulator)


# -- helpers ----------------------------------------------------------------------------------


def handled(app: Application, kind: str) -> float:
    value = app.metrics.registry.get_sample_value("libral_updates_total", {"type": kind})
    return value or 0.0


async def bot_message_after(
    emulator: BotAPIEmulator, user: UserActor, since: StoredMessage | None, key: str | None = None
) -> StoredMessage:
    return await emulator.wait_for(
        lambda m: m.from_bot and (key is None or key in m.data), chat=user.chat, since=since
    )


def has_button(message: StoredMessage, text: str) -> bool | None:
    return any(b["text"] == text for b in message.inline_buttons) or None


async def open_buy(emulator: BotAPIEmulator, user: UserActor) -> StoredMessage:
    sent = await user.send_text("/buy")
    return await user.wait_reply(after=sent)


async def buy_pack(
    emulator: BotAPIEmulator, stars: StarsWorld, user: UserActor, pack: str = "small"
) -> str:
    """/buy → pack button → invoice → pay → receipt; returns the charge id."""
    menu = await open_buy(emulator, user)
    press = await user.press(menu, data=f"pay1:buy:{pack}:0")
    assert press.answer is not None
    assert press.answer.text is None
    invoice = await bot_message_after(emulator, user, menu, "invoice")
    paid = await stars.pay(user, invoice)
    assert paid.ok
    assert paid.charge_id
    assert paid.message is not None
    await bot_message_after(emulator, user, paid.message)
    return paid.charge_id


async def balance_of(app: Application, user_id: int) -> int:
    async with app.sessionmaker() as session:
        return await ledger.balance(session, user_id)


async def assert_reconciled(app: Application) -> None:
    async with app.sessionmaker() as session:
        report = await reconcile.reconcile(session, app.bot)
    assert report.issues == []
    assert report.payments_checked > 0
    assert report.transactions_checked >= report.payments_checked


# -- buying a pack ----------------------------------------------------------------------------


@pytest.mark.parametrize("app", ["polling", "webhook"], indirect=True)
@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("ja", ("500 クレジットを追加しました", "残高: 500 クレジット")),
        ("en", ("500 credits added", "Balance: 500 credits")),
    ],
)
async def test_buy_a_pack(
    app: Application,
    emulator: BotAPIEmulator,
    stars: StarsWorld,
    language: str,
    expected: tuple[str, str],
) -> None:
    assert "payments.reconcile" in [job.name for job in app.scheduler.status()]
    user = emulator.create_user("Aiko", language_code=language)
    menu = await open_buy(emulator, user)
    i18n = T.for_locale(language)
    assert i18n("pay-pack-button", credits=500, stars=50) in [
        b["text"] for b in menu.inline_buttons
    ]
    await user.press(menu, data="pay1:buy:small:0")
    invoice = await bot_message_after(emulator, user, menu, "invoice")
    assert invoice.data["invoice"]["currency"] == "XTR"
    assert invoice.data["invoice"]["total_amount"] == 50
    assert invoice.data["invoice"]["title"] == i18n("pay-pack-title", credits=500)
    call = emulator.calls_to("sendInvoice", ok=True)[-1]
    assert len(call.params["prices"]) == 1
    assert "provider_token" not in call.params  # empty, as Stars require
    assert len(call.params["payload"].encode()) <= 128

    paid = await stars.pay(user, invoice)
    assert paid.query is not None
    assert paid.query.ok is True
    assert paid.message is not None
    assert paid.update is not None
    receipt = await bot_message_after(emulator, user, paid.message)
    for text in expected:
        assert text in (receipt.text or "")
    assert await balance_of(app, user.id) == 500

    # Telegram redelivers the same update, then (say, after a restart) a copy with a new id.
    before = handled(app, "message")
    emulator.updates.redeliver(paid.update["update_id"])
    copy = {"message": dict(paid.update["message"])}
    emulator.updates.push(copy)
    await eventually(lambda: handled(app, "message") >= before + 1, "copy handled")
    assert await balance_of(app, user.id) == 500
    async with app.sessionmaker() as session:
        rows = (await session.scalars(select(Payment).where(Payment.user_id == user.id))).all()
        assert [(p.kind, p.stars, p.credits, p.status) for p in rows] == [
            (PaymentKind.PACK, 50, 500, PaymentStatus.PAID)
        ]
    replies = [m for m in emulator.messages(user.chat, from_bot=True) if m.seq > receipt.seq]
    assert replies == []  # no second receipt
    await assert_reconciled(app)


# -- pre-checkout refusals --------------------------------------------------------------------


async def _foreign_invoice(bot: Bot, user: UserActor, payload: str, amount: int) -> None:
    await bot.send_invoice(
        chat_id=user.id,
        title="Old invoice",
        description="An invoice issued before the catalogue changed",
        payload=payload,
        currency="XTR",
        prices=[LabeledPrice(label="credits", amount=amount)],
    )


@pytest.mark.parametrize("language", ["ja", "en"])
async def test_pre_checkout_refusals(
    app: Application, emulator: BotAPIEmulator, stars: StarsWorld, language: str
) -> None:
    user = emulator.create_user("Ken", language_code=language)
    i18n = T.for_locale(language)
    menu = await open_buy(emulator, user)

    # A pack that is no longer in the catalogue.
    gone = Item(ItemKind.PACK, "retired", 30, 300)
    await _foreign_invoice(app.bot, user, gone.payload, 30)
    invoice = await bot_message_after(emulator, user, menu, "invoice")
    refused = await stars.pay(user, invoice)
    assert refused.query is not None
    assert refused.query.ok is False
    assert refused.query.error_message == i18n("pay-refused-unknown-item")
    assert not refused.ok

    # An invoice for a real pack at its old price.
    stale = Item(ItemKind.PACK, "small", 40, 500)
    await _foreign_invoice(app.bot, user, stale.payload, 40)
    invoice2 = await bot_message_after(emulator, user, invoice, "invoice")
    refused = await stars.pay(user, invoice2)
    assert refused.query is not None
    assert refused.query.error_message == i18n("pay-refused-stale")

    # A genuine invoice, but the user is banned before paying (the ban middleware answers
    # first, with its own notice; `check_pre_checkout` refuses the same when it runs alone).
    await user.press(menu, data="pay1:buy:small:0")
    invoice3 = await bot_message_after(emulator, user, invoice2, "invoice")
    async with app.sessionmaker() as session:
        row = await session.get(User, user.id)
        assert row is not None
        row.status = UserStatus.BANNED
        await session.commit()
    refused = await stars.pay(user, invoice3)
    assert refused.query is not None
    assert refused.query.ok is False
    assert refused.query.error_message == i18n("ban-notice")

    assert stars.charges == {}
    assert await balance_of(app, user.id) == 0
    async with app.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Payment)) == 0


# -- subscription -----------------------------------------------------------------------------


async def subscribe(
    emulator: BotAPIEmulator, stars: StarsWorld, user: UserActor
) -> tuple[str, StoredMessage]:
    menu = await open_buy(emulator, user)
    await user.press(menu, data="pay1:sub:monthly:0")
    offer = await bot_message_after(emulator, user, menu)
    url = offer.inline_buttons[0]["url"]
    link_call = emulator.calls_to("createInvoiceLink", ok=True)[-1]
    assert link_call.params["subscription_period"] == 2592000
    paid = await stars.pay_link(user, url)
    assert paid.ok
    assert paid.charge_id
    assert paid.message is not None
    receipt = await bot_message_after(emulator, user, paid.message)
    return paid.charge_id, receipt


async def test_subscription_first_payment_two_renewals_and_cancel(
    app: Application, emulator: BotAPIEmulator, stars: StarsWorld
) -> None:
    user = emulator.create_user("Mia", language_code="en")
    first, receipt = await subscribe(emulator, stars, user)
    assert "You are subscribed to the monthly plan" in (receipt.text or "")
    assert "3,000 credits added" in (receipt.text or "")

    for n in (2, 3):
        emulator.clock.advance(2_592_000)
        renewal = stars.renew(first)
        assert renewal.message is not None
        text = (await bot_message_after(emulator, user, renewal.message)).text or ""
        assert "Your monthly plan was renewed" in text
        assert f"Balance: {3000 * n:,} credits" in text

    assert await balance_of(app, user.id) == 9000
    sub = stars.subscriptions[first]
    async with app.sessionmaker() as session:
        payments = (await session.scalars(select(Payment).where(Payment.user_id == user.id))).all()
        assert sorted(p.kind for p in payments) == [
            PaymentKind.RENEWAL,
            PaymentKind.RENEWAL,
            PaymentKind.SUBSCRIPTION,
        ]
        assert {p.subscription_charge_id for p in payments} == {first}
        row = await purchases.subscription_of(session, user.id, "monthly")
        assert row is not None
        assert int(row.expires_at.timestamp()) == sub.expires
        assert row.state is SubscriptionState.ACTIVE

    # /subscription shows it and turns renewal off through editUserStarSubscription.
    sent = await user.send_text("/subscription")
    panel = await user.wait_reply(after=sent)
    assert "Monthly plan" in (panel.text or "")
    press = await user.press(panel, text="Turn renewal off")
    assert press.answer is not None
    assert "Renewal is off" in (press.answer.text or "")
    edit = emulator.calls_to("editUserStarSubscription", ok=True)[-1]
    assert edit.params["is_canceled"] is True
    assert edit.params["telegram_payment_charge_id"] == first
    assert sub.canceled_by_bot
    async with app.sessionmaker() as session:
        row = await purchases.subscription_of(session, user.id, "monthly")
        assert row is not None
        assert row.state is SubscriptionState.CANCELED
    # ... and back on.
    edited = emulator.chat(user.chat).messages[panel.message_id]
    await emulator.wait_until(lambda: "Turn renewal back on" in str(edited.reply_markup))
    await user.press(edited, text="Turn renewal back on")
    assert not sub.canceled_by_bot

    # A change made in Telegram itself arrives as a `subscription` update.
    stars.report_subscription(first, "canceled")
    notice = await bot_message_after(emulator, user, edited)
    assert "Renewal of your monthly plan was turned off" in (notice.text or "")
    async with app.sessionmaker() as session:
        row = await purchases.subscription_of(session, user.id, "monthly")
        assert row is not None
        assert row.state is SubscriptionState.CANCELED
    # The bot may only undo its own cancellation: Telegram refuses, the user is told where to go.
    panel = await command_reply(user, "/subscription")
    press = await user.press(panel, text="Turn renewal back on")
    assert press.answer is not None
    assert press.answer.text == T.get("en", "pay-sub-edit-failed")
    assert press.answer.show_alert
    async with app.sessionmaker() as session:
        row = await purchases.subscription_of(session, user.id, "monthly")
        assert row is not None
        assert row.state is SubscriptionState.CANCELED
    await assert_reconciled(app)


async def test_subscribing_twice_is_refused_at_pre_checkout(
    app: Application, emulator: BotAPIEmulator, stars: StarsWorld
) -> None:
    user = emulator.create_user("Sora", language_code="ja")
    await subscribe(emulator, stars, user)
    # A second link, paid while the first period runs (Telegram would let another device try).
    menu = await open_buy(emulator, user)
    await user.press(menu, data="pay1:sub:monthly:0")
    offer = await bot_message_after(emulator, user, menu)
    stars.subscriptions.clear()  # the emulator's own guard would stop the user first
    refused = await stars.pay_link(user, offer.inline_buttons[0]["url"])
    assert refused.query is not None
    assert refused.query.error_message == T.get("ja", "pay-refused-already-subscribed")
    assert await balance_of(app, user.id) == 3000


# -- refunds ----------------------------------------------------------------------------------


async def test_refund_via_paysupport_then_double_refund_refused(
    app: Application, emulator: BotAPIEmulator, stars: StarsWorld
) -> None:
    user = emulator.create_user("Yui", language_code="ja")
    charge = await buy_pack(emulator, stars, user)
    assert await balance_of(app, user.id) == 500

    sent = await user.send_text("/paysupport")
    support = await user.wait_reply(after=sent)
    assert "返金" in (support.text or "")
    assert len(support.inline_buttons) == 1
    await user.press(support, data=support.inline_buttons[0]["callback_data"])
    confirm = emulator.chat(user.chat).messages[support.message_id]
    await emulator.wait_until(lambda: "よろしいですか" in (confirm.text or ""))
    confirm_data = confirm.button(text="返金する")["callback_data"]
    messages_before = handled(app, "message")
    await user.press(confirm, text="返金する")
    await emulator.wait_until(lambda: "⭐50 を返金しました" in (confirm.text or ""))
    assert "残高: 0 クレジット" in (confirm.text or "")
    assert stars.refund_calls == {charge: 1}
    assert stars.charges[charge].refunded

    # Telegram's refunded_payment message for our own refund changes nothing more.
    await eventually(lambda: handled(app, "message") >= messages_before + 1, "refunded_payment")
    assert [m for m in emulator.messages(user.chat) if "refunded_payment" in m.data]
    assert [m for m in emulator.messages(user.chat, from_bot=True) if m.seq > confirm.seq] == []

    # The same confirmation pressed again (an old message, a double tap).
    again = emulator.add_message(
        user.chat,
        emulator.bot_user,
        {"text": "old"},
        reply_markup={"inline_keyboard": [[{"text": "x", "callback_data": confirm_data}]]},
    )
    await user.press(again, data=confirm_data)
    stored = emulator.chat(user.chat).messages[again.message_id]
    await emulator.wait_until(lambda: "すでに返金済み" in (stored.text or ""))
    assert stars.refund_calls == {charge: 1}
    assert await balance_of(app, user.id) == 0
    async with app.sessionmaker() as session:
        payment = await session.scalar(select(Payment).where(Payment.charge_id == charge))
        assert payment is not None
        assert payment.status is PaymentStatus.REFUNDED
        assert payment.refund_source is RefundSource.USER
        assert payment.credits_reversed == 500
    await assert_reconciled(app)


async def test_refund_by_admin_and_double_refund_refused(
    app: Application, emulator: BotAPIEmulator, stars: StarsWorld
) -> None:
    from services.admin.ports import RefundRefused as PanelRefundRefused

    user = emulator.create_user("Ren", language_code="en")
    charge = await buy_pack(emulator, stars, user, "medium")
    async with app.sessionmaker() as session:
        outcome = await refunds.refund(session, app.bot, charge, RefundSource.ADMIN)
        await session.commit()
    assert (outcome.stars, outcome.credits_reversed, outcome.balance) == (200, 2200, 0)
    assert outcome.shortfall == 0
    async with app.sessionmaker() as session:
        with pytest.raises(RefundRefused) as refused:
            await refunds.refund(session, app.bot, charge, RefundSource.ADMIN)
        assert refused.value.reason is RefundRefusal.ALREADY_REFUNDED
    # The same through the admin panel's port (what its refund button calls).
    panel_refund = app.dispatcher["admin"].ports.refund
    async with app.sessionmaker() as session:
        payment = await session.scalar(select(Payment).where(Payment.charge_id == charge))
        assert payment is not None
        with pytest.raises(PanelRefundRefused) as panel_refused:
            await panel_refund(session, payment.id)
        assert panel_refused.value.reason == "already-refunded"
        rows = await app.dispatcher["admin"].ports.recent_payments(session, 0, 10)
        assert [(r.id, r.stars, r.refunded) for r in rows] == [(payment.id, 200, True)]
    assert stars.refund_calls == {charge: 1}
    # Our refund's refunded_payment echo arrived and changed nothing.
    assert len([m for m in emulator.messages(user.chat) if "refunded_payment" in m.data]) == 1
    assert await balance_of(app, user.id) == 0
    await assert_reconciled(app)


async def test_refund_larger_than_the_balance(
    app: Application, emulator: BotAPIEmulator, stars: StarsWorld
) -> None:
    """Policy: a user's own request is refused (flagged for an admin) once credits were used;
    an admin refund returns the Stars and takes back only what is left; a refund made at
    Telegram is followed the same way."""
    user = emulator.create_user("Nao", language_code="en")
    first = await buy_pack(emulator, stars, user)
    async with app.sessionmaker() as session:
        await ledger.apply_movement(session, user.id, -300, MovementKind.USAGE, ref="reply-1")
        await session.commit()

    sent = await user.send_text("/paysupport")
    support = await user.wait_reply(after=sent)
    payment_button = support.inline_buttons[0]["callback_data"]
    await user.press(support, data=payment_button)
    confirm = emulator.chat(user.chat).messages[support.message_id]
    await emulator.wait_until(lambda: "Refund ⭐50" in (confirm.text or ""))
    await user.press(confirm, text="Refund")
    await emulator.wait_until(lambda: "already been used" in (confirm.text or ""))
    assert stars.refund_calls == {}
    async with app.sessionmaker() as session:
        payment = await session.scalar(select(Payment).where(Payment.charge_id == first))
        assert payment is not None
        assert payment.refund_requested_at is not None
        assert payment.status is PaymentStatus.PAID

    async with app.sessionmaker() as session:
        outcome = await refunds.refund(session, app.bot, first, RefundSource.ADMIN)
        await session.commit()
    assert (outcome.credits_reversed, outcome.shortfall, outcome.balance) == (200, 300, 0)
    assert stars.refund_calls == {first: 1}

    # A second payment, spent in full, then refunded by Telegram's support.
    second = await buy_pack(emulator, stars, user)
    async with app.sessionmaker() as session:
        await ledger.apply_movement(session, user.id, -500, MovementKind.USAGE, ref="reply-2")
        await session.commit()
    stars.refund_by_telegram(second)
    notice = await emulator.wait_for(
        lambda m: m.from_bot and "Refund of ⭐50 recorded" in (m.text or ""), chat=user.chat
    )
    assert "0 credits taken off" in (notice.text or "")
    assert "500 credits had already been used" in (notice.text or "")
    async with app.sessionmaker() as session:
        payment = await session.scalar(select(Payment).where(Payment.charge_id == second))
        assert payment is not None
        assert payment.status is PaymentStatus.REFUNDED
        assert payment.refund_source is RefundSource.TELEGRAM
    assert await balance_of(app, user.id) == 0
    await assert_reconciled(app)


# -- receipts under Telegram's flood limits -----------------------------------------------------


async def test_twenty_payments_at_once_every_receipt_arrives_despite_429s(
    app: Application, emulator: BotAPIEmulator, stars: StarsWorld
) -> None:
    user = emulator.create_user("Rin", language_code="en")
    menu = await open_buy(emulator, user)
    await user.press(menu, data="pay1:buy:small:0")
    invoice = await bot_message_after(emulator, user, menu, "invoice")
    # Flood limits on (about 1 message a second in this chat), and Telegram answers some
    # receipts with 429 on top of them: each must be sent again after its wait.
    emulator.limits.enabled = True
    emulator.faults.schedule("sendMessage", [429, None, 429, None, 429], chat_id=user.id)
    paid = await asyncio.gather(*(stars.pay(user, invoice, timeout=30) for _ in range(20)))
    assert all(p.ok and p.charge_id for p in paid)
    assert len({p.charge_id for p in paid}) == 20

    def receipts() -> list[StoredMessage]:
        return [
            m
            for m in emulator.messages(user.chat, from_bot=True)
            if "500 credits added" in (m.text or "")
        ]

    await emulator.wait_until(lambda: len(receipts()) >= 20 or None, 180, what="20 receipts")
    assert len(receipts()) == 20
    assert await balance_of(app, user.id) == 20 * 500
    assert len([c for c in emulator.errors(429) if c.fault == "error 429"]) == 3
    assert app.send_budget.stats.retried >= 3
    assert app.send_budget.stats.gave_up == 0


# -- concurrency against PostgreSQL -----------------------------------------------------------


async def test_a_thousand_concurrent_deliveries_credit_each_charge_once(pg_url: str) -> None:
    engine: AsyncEngine = create_engine(pg_url)
    sessionmaker = create_sessionmaker(engine)
    pack = Item(ItemKind.PACK, "small", 50, 500)
    users = list(range(700_000_001, 700_000_011))
    charges = [(f"stxConc{n:04d}", users[n % len(users)]) for n in range(100)]
    try:
        async with sessionmaker() as session:
            session.add_all(User(id=uid) for uid in users)
            await session.commit()
        deliveries = [c for c in charges for _ in range(10)]
        random.Random(6).shuffle(deliveries)

        async def deliver(charge_id: str, user_id: int) -> bool:
            async with sessionmaker() as session:
                receipt = await purchases.record_successful_payment(
                    session,
                    Catalogue(PaymentsSettings()),
                    user_id=user_id,
                    charge_id=charge_id,
                    payload=pack.payload,
                    currency="XTR",
                    total_amount=50,
                )
                await session.commit()
                return not receipt.duplicate

        results = await asyncio.gather(*(deliver(c, u) for c, u in deliveries))
        assert sum(results) == 100

        async with sessionmaker() as session:
            movements = await session.scalar(
                select(func.count())
                .select_from(CreditMovement)
                .where(CreditMovement.kind == MovementKind.PURCHASE)
            )
            assert movements == 100
            assert await session.scalar(select(func.count()).select_from(Payment)) == 100
            total = await session.scalar(select(func.sum(User.credits)))
            assert total == 100 * 500
            for uid in users:
                assert await ledger.balance(session, uid) == 10 * 500
            report = await reconcile.reconcile(session)
            assert report.issues == []
    finally:
        await engine.dispose()


# -- the billing log --------------------------------------------------------------------------


async def test_payments_and_refunds_reach_the_billing_topic(
    emulator: BotAPIEmulator, make_settings: Callable[..., Settings]
) -> None:
    from services.crypto import KeyVersion
    from services.crypto.sequoia_engine import SequoiaEngine
    from tests.e2e.test_logserver import FAST, onboard, open_all, posted_records, wait_records

    key = SequoiaEngine().generate_key("Billing reader", version=KeyVersion.V4, passphrase="pw")
    # The group's rate window (20 a minute) is not what this test is about.
    budget = SendBudgetSettings(group_per_minute=1000)
    async with run_bot(emulator, make_settings(logserver=FAST, sendbudget=budget)) as app:
        stars = payments_of(emulator)
        user = emulator.create_user("Emi", language_code="en")
        group = await onboard(app, emulator, user, key)
        charge = await buy_pack(emulator, stars, user)
        # The admin panel's refund button, as wired in bot/app.py.
        refund = app.dispatcher["admin"].ports.refund
        async with app.sessionmaker() as session:
            payment = await session.scalar(select(Payment).where(Payment.charge_id == charge))
            assert payment is not None
            row = await refund(session, payment.id)
            await session.commit()
        assert row.refunded
        await wait_records(app, emulator, group, 3)  # setup, payment, refund
        billing_topic = next(t for t in group.topics.values() if t.name == "Billing")
        posted = [
            p
            for p in posted_records(emulator, group)
            if p.message.thread_id == billing_topic.thread_id
        ]
        opened = open_all(app, key, posted)
        assert all(o.ok for o in opened)
        bodies = [o.record.body for o in opened]
        assert [(b["event"], b["charge_id"]) for b in bodies] == [
            ("payment", charge),
            ("refund", charge),
        ]
        assert bodies[0]["credits"] == 500
        assert bodies[1]["credits_reversed"] == 500
        assert all(o.record.kind == "billing" for o in opened)
        await assert_reconciled(app)


# -- every other failure path answers in the user's language ----------------------------------


async def _fail(call: Call) -> object:
    raise bad_request("SOMETHING_WENT_WRONG")


async def command_reply(user: UserActor, text: str) -> StoredMessage:
    sent = await user.send_text(text)
    return await user.wait_reply(after=sent)


@pytest.mark.parametrize("language", ["ja", "en"])
async def test_failure_paths_are_answered(
    emulator: BotAPIEmulator,
    stars: StarsWorld,
    make_settings: Callable[..., Settings],
    language: str,
) -> None:
    # Many steps by one user in a row: the flood limit is not what this test is about.
    async with run_bot(emulator, make_settings(throttle_burst=1000)) as app:
        await _failure_paths(app, emulator, stars, language)


async def _failure_paths(
    app: Application, emulator: BotAPIEmulator, stars: StarsWorld, language: str
) -> None:
    i18n = T.for_locale(language)
    user = emulator.create_user("Kai", language_code=language)

    # Nothing bought yet: /paysupport and /subscription say so; /terms states the policy.
    support = await command_reply(user, "/paysupport")
    assert i18n("pay-support-none", days=30) in (support.text or "")
    assert support.inline_buttons == []
    panel = await command_reply(user, "/subscription")
    assert panel.text == i18n("pay-sub-none")
    terms = await command_reply(user, "/terms")
    assert terms.text == re.sub(r"</?b>", "", i18n("pay-terms", hours=48))

    # A button for a pack that is gone, and for renewal without a subscription.
    menu = await open_buy(emulator, user)
    stale = emulator.add_message(
        user.chat,
        emulator.bot_user,
        {"text": "old menu"},
        reply_markup={
            "inline_keyboard": [
                [{"text": "gone", "callback_data": "pay1:buy:gone:0"}],
                [{"text": "off", "callback_data": "pay1:off:monthly:0"}],
            ]
        },
    )
    press = await user.press(stale, data="pay1:buy:gone:0")
    assert press.answer is not None
    assert (press.answer.text, press.answer.show_alert) == (i18n("pay-item-gone"), True)
    press = await user.press(stale, data="pay1:off:monthly:0")
    assert press.answer is not None
    assert press.answer.text == i18n("pay-sub-not-current")

    # Telegram fails to create the invoice or the link.
    emulator.override_method("sendInvoice", _fail)
    emulator.override_method("createInvoiceLink", _fail)
    for data in ("pay1:buy:small:0", "pay1:sub:monthly:0"):
        press = await user.press(menu, data=data)
        assert press.answer is not None
        assert press.answer.text == i18n("pay-invoice-failed")
    emulator.methods = registry.copy()

    # A payment whose payload this bot cannot read: money taken, nothing guessed, told.
    stars._record_charge(
        Charge("stxMystery", user.id, 77, "mystery", emulator.clock.timestamp()), None
    )
    message, _ = stars._service_message(
        user.id,
        {
            "successful_payment": {
                "currency": "XTR",
                "total_amount": 77,
                "invoice_payload": "mystery",
                "telegram_payment_charge_id": "stxMystery",
                "provider_payment_charge_id": "stxMystery",
            }
        },
    )
    unknown = await bot_message_after(emulator, user, message)
    assert unknown.text == i18n("pay-receipt-unknown")
    async with app.sessionmaker() as session:
        report = await reconcile.reconcile(session, app.bot)
    # Recorded (the money is not forgotten), credited nothing, flagged for an operator.
    assert [(i.kind, i.ref) for i in report.issues] == [(reconcile.IssueKind.FLAGGED, "stxMystery")]

    # A refund Telegram refuses; then one kept by the user; then someone else's payment.
    charge = await buy_pack(emulator, stars, user)
    emulator.override_method("refundStarPayment", _fail)
    support = await command_reply(user, "/paysupport")
    pick = support.inline_buttons[0]["callback_data"]
    await user.press(support, data=pick)
    stored = emulator.chat(user.chat).messages[support.message_id]
    # The picker lists the flagged payment too (it may be refunded): wait for the question.
    await emulator.wait_until(lambda: has_button(stored, i18n("pay-refund-yes")))
    await user.press(stored, text=i18n("pay-refund-yes"))
    await emulator.wait_until(
        lambda: stored.text == i18n("pay-refund-refused-telegram-refused") or None
    )
    emulator.methods = registry.copy()
    support = await command_reply(user, "/paysupport")
    await user.press(support, data=pick)
    stored = emulator.chat(user.chat).messages[support.message_id]
    await emulator.wait_until(lambda: has_button(stored, i18n("pay-refund-no")))
    await user.press(stored, text=i18n("pay-refund-no"))
    await emulator.wait_until(lambda: stored.text == i18n("pay-refund-kept") or None)
    other = emulator.create_user("Other", language_code=language)
    theirs = await command_reply(other, "/paysupport")
    forged = emulator.add_message(
        other.chat,
        emulator.bot_user,
        {"text": "forged"},
        reply_markup={"inline_keyboard": [[{"text": "x", "callback_data": pick}]]},
    )
    assert theirs.inline_buttons == []
    press = await other.press(forged, data=pick)
    assert press.answer is not None
    assert press.answer.text == i18n("pay-refund-refused-not-found")
    # One attempt reached Telegram (and failed); the others were stopped before.
    assert [c.ok for c in emulator.calls_to("refundStarPayment")] == [False]
    assert not stars.charges[charge].refunded
    assert await balance_of(app, user.id) == 500


@pytest.mark.parametrize("language", ["ja", "en"])
async def test_operator_settings_are_explained(
    emulator: BotAPIEmulator, make_settings: Callable[..., Settings], language: str
) -> None:
    """Payments off, an empty catalogue, automatic refunds off: each is told, not failed."""

    i18n = T.for_locale(language)
    stars = payments_of(emulator)
    async with run_bot(emulator, make_settings(payments=PaymentsSettings(enabled=False))):
        user = emulator.create_user("Off", language_code=language)
        assert (await command_reply(user, "/buy")).text == i18n("pay-disabled")
    empty = PaymentsSettings(packs=[], subscription=None)
    async with run_bot(emulator, make_settings(payments=empty)):
        user = emulator.create_user("Empty", language_code=language)
        assert (await command_reply(user, "/buy")).text == i18n("pay-buy-empty")
    async with run_bot(
        emulator, make_settings(payments=PaymentsSettings(auto_refund_hours=0))
    ) as app:
        user = emulator.create_user("Late", language_code=language)
        charge = await buy_pack(emulator, stars, user)
        terms = await command_reply(user, "/terms")
        assert "48" not in (terms.text or "")
        support = await command_reply(user, "/paysupport")
        assert i18n("pay-support-text", hours=0).split("\n")[1] in (support.text or "")
        await user.press(support, data=support.inline_buttons[0]["callback_data"])
        stored = emulator.chat(user.chat).messages[support.message_id]
        await emulator.wait_until(lambda: len(stored.inline_buttons) == 2)
        await user.press(stored, text=i18n("pay-refund-yes"))
        expected = i18n("pay-refund-refused-manual-only")
        await emulator.wait_until(lambda: stored.text == expected or None)
        assert charge not in stars.refund_calls
        async with app.sessionmaker() as session:
            flagged = await history.recent_payments(session, refund_requested=True)
        assert [p.charge_id for p in flagged] == [charge]
