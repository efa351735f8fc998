"""The emulator's Stars payments are as strict as Telegram: tested through the real aiogram Bot
with a tiny dispatcher standing in for the application."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import LabeledPrice, Message, PreCheckoutQuery

from tests.emulator import BotAPIEmulator, UserActor
from tests.emulator.methods_payments import payments_of


def price(amount: int = 10) -> list[LabeledPrice]:
    return [LabeledPrice(label="credits", amount=amount)]


async def started_user(emulator: BotAPIEmulator) -> UserActor:
    user = emulator.create_user("Payer")
    user.user.started_bot = True
    return user


async def test_send_invoice_rules(emulator: BotAPIEmulator, emulator_bot: Bot) -> None:
    user = await started_user(emulator)
    ok = await emulator_bot.send_invoice(
        chat_id=user.id, title="T", description="D", payload="p", currency="XTR", prices=price()
    )
    assert ok.invoice is not None
    assert ok.invoice.total_amount == 10
    bad_calls: dict[str, dict[str, object]] = {
        "exactly one price item": {"prices": [*price(), *price()]},
        "INVOICE_PAYLOAD_INVALID": {"payload": "x" * 129},
        "empty provider token": {"provider_token": "123:TEST"},
        "XTR": {"currency": "USD"},
        "CURRENCY_TOTAL_AMOUNT_INVALID": {"prices": price(0)},
        "not available for payments in Telegram Stars": {"need_email": True},
    }
    for reason, override in bad_calls.items():
        params: dict[str, object] = {
            "chat_id": user.id,
            "title": "T",
            "description": "D",
            "payload": "p",
            "currency": "XTR",
            "prices": price(),
        }
        params.update(override)
        with pytest.raises(TelegramBadRequest, match=reason):
            await emulator_bot.send_invoice(**params)  # type: ignore[arg-type]


async def test_invoice_link_subscription_rules(emulator_bot: Bot) -> None:
    link = await emulator_bot.create_invoice_link(
        title="T",
        description="D",
        payload="s",
        currency="XTR",
        prices=price(10_000),
        subscription_period=2_592_000,
    )
    assert link.startswith("https://t.me/$")
    with pytest.raises(TelegramBadRequest, match="SUBSCRIPTION_PERIOD_INVALID"):
        await emulator_bot.create_invoice_link(
            title="T",
            description="D",
            payload="s",
            currency="XTR",
            prices=price(),
            subscription_period=604_800,
        )
    with pytest.raises(TelegramBadRequest, match="SUBSCRIPTION_PRICE_INVALID"):
        await emulator_bot.create_invoice_link(
            title="T",
            description="D",
            payload="s",
            currency="XTR",
            prices=price(10_001),
            subscription_period=2_592_000,
        )


@pytest.fixture
async def shop(emulator: BotAPIEmulator, emulator_bot: Bot) -> AsyncIterator[list[Message]]:
    """A minimal bot: approves every checkout and collects successful/refunded payments."""
    seen: list[Message] = []
    router = Router()

    @router.pre_checkout_query()
    async def approve(query: PreCheckoutQuery) -> None:
        await query.answer(ok=True)

    @router.message(F.successful_payment | F.refunded_payment)
    async def collect(message: Message) -> None:
        seen.append(message)

    dp = Dispatcher()
    dp.include_router(router)
    task = asyncio.create_task(
        dp.start_polling(
            emulator_bot, handle_signals=False, close_bot_session=False, polling_timeout=1
        )
    )
    try:
        yield seen
    finally:
        await dp.stop_polling()
        await task


async def test_pay_renew_refund_and_transactions(
    emulator: BotAPIEmulator, emulator_bot: Bot, shop: list[Message]
) -> None:
    stars = payments_of(emulator)
    user = await started_user(emulator)
    url = await emulator_bot.create_invoice_link(
        title="T",
        description="D",
        payload="sub",
        currency="XTR",
        prices=price(100),
        subscription_period=2_592_000,
    )
    paid = await stars.pay_link(user, url)
    assert paid.charge_id is not None
    await emulator.wait_until(lambda: len(shop) == 1)
    first = shop[0].successful_payment
    assert first is not None
    assert first.is_first_recurring
    assert first.is_recurring
    renewal = stars.renew(paid.charge_id)
    await emulator.wait_until(lambda: len(shop) == 2)
    second = shop[1].successful_payment
    assert second is not None
    assert second.is_recurring
    assert not second.is_first_recurring
    assert second.subscription_expiration_date == (first.subscription_expiration_date or 0) + (
        2_592_000
    )

    assert await emulator_bot.edit_user_star_subscription(
        user_id=user.id, telegram_payment_charge_id=paid.charge_id, is_canceled=True
    )
    with pytest.raises(Exception, match="canceled"):
        stars.renew(paid.charge_id)

    assert renewal.charge_id is not None
    assert await emulator_bot.refund_star_payment(
        user_id=user.id, telegram_payment_charge_id=renewal.charge_id
    )
    with pytest.raises(TelegramBadRequest, match="CHARGE_ALREADY_REFUNDED"):
        await emulator_bot.refund_star_payment(
            user_id=user.id, telegram_payment_charge_id=renewal.charge_id
        )
    await emulator.wait_until(lambda: len(shop) == 3)
    assert shop[2].refunded_payment is not None
    assert shop[2].refunded_payment.telegram_payment_charge_id == renewal.charge_id

    history = await emulator_bot.get_star_transactions(offset=0, limit=10)
    assert [(t.id, t.amount, t.source is not None) for t in history.transactions] == [
        (paid.charge_id, 100, True),
        (renewal.charge_id, 100, True),
        (renewal.charge_id, 100, False),
    ]
    assert (await emulator_bot.get_star_transactions(offset=2, limit=10)).transactions[0].receiver


async def test_pre_checkout_must_be_answered_within_ten_seconds(
    emulator: BotAPIEmulator, emulator_bot: Bot
) -> None:
    user = await started_user(emulator)
    invoice = await emulator_bot.send_invoice(
        chat_id=user.id, title="T", description="D", payload="p", currency="XTR", prices=price()
    )
    stars = payments_of(emulator)
    stored = emulator.chat(user.id).messages[invoice.message_id]
    attempt = asyncio.create_task(stars.pay(user, stored, timeout=10))
    ids = await emulator.wait_until(lambda: list(stars.queries) or None)
    query_id = ids[0]
    emulator.clock.advance(11)
    with pytest.raises(TelegramBadRequest, match="too old"):
        await emulator_bot.answer_pre_checkout_query(pre_checkout_query_id=query_id, ok=True)
    result = await attempt
    assert not result.ok
    assert stars.charges == {}
