"""Stars payments: /buy, /subscription, /paysupport, /terms, pre-checkout, successful and
refunded payments, and Telegram's `subscription` updates.

Handlers parse, call one service, render. The service that moves money or changes a
subscription commits before it returns, so a receipt is never shown for credits that were not
stored; a handler that only read ends its transaction (`finish_reading`) before talking to
Telegram, so none (on SQLite: the write lock) stays open across a network call.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command
from aiogram.types import (
    BotSubscriptionUpdated,
    CallbackQuery,
    InlineKeyboardMarkup,
    Message,
    PreCheckoutQuery,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import User
from bot.db.models.payments import (
    Payment,
    PaymentKind,
    PaymentStatus,
    StarSubscription,
    SubscriptionState,
)
from bot.db.transactions import finish_reading
from bot.i18n import I18n
from keyboards.payments import (
    PayAction,
    PayCD,
    catalogue_keyboard,
    refund_confirm,
    refund_picker,
    subscribe_link_keyboard,
    subscription_keyboard,
)
from services.payments import Payments, history, invoices, purchases, refunds, subscriptions
from services.payments.catalogue import PayloadError, decode_payload
from services.payments.errors import (
    ChargeIdTooLong,
    NoSubscription,
    RefundRefusal,
    RefundRefused,
    SubscriptionEditFailed,
)

log = logging.getLogger(__name__)


def _date(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


# -- catalogue and invoices --------------------------------------------------------------------


async def buy(
    message: Message, session: AsyncSession, user: User, i18n: I18n, payments: Payments
) -> None:
    await finish_reading(session)
    if not payments.settings.enabled:
        await message.answer(i18n("pay-disabled"))
        return
    if not payments.catalogue.items():
        await message.answer(i18n("pay-buy-empty"))
        return
    await message.answer(
        i18n("pay-buy-intro", balance=user.credits),
        reply_markup=catalogue_keyboard(i18n, payments.catalogue),
    )


async def send_pack_invoice(
    query: CallbackQuery,
    callback_data: PayCD,
    i18n: I18n,
    payments: Payments,
    bot: Bot,
) -> None:
    pack = payments.catalogue.pack(callback_data.item)
    if pack is None or not payments.settings.enabled:
        await query.answer(i18n("pay-item-gone"), show_alert=True)
        return
    try:
        await invoices.send_pack_invoice(
            bot,
            query.from_user.id,
            pack,
            title=i18n("pay-pack-title", credits=pack.credits),
            description=i18n("pay-pack-description", credits=pack.credits),
            label=i18n("pay-price-label", credits=pack.credits),
        )
    except TelegramAPIError as exc:
        log.warning("sendInvoice failed: %s", exc)
        await query.answer(i18n("pay-invoice-failed"), show_alert=True)
        return
    await query.answer()


async def send_subscription_link(
    query: CallbackQuery,
    callback_data: PayCD,
    i18n: I18n,
    payments: Payments,
    bot: Bot,
) -> None:
    plan = payments.catalogue.subscription
    if plan is None or plan.id != callback_data.item or not payments.settings.enabled:
        await query.answer(i18n("pay-item-gone"), show_alert=True)
        return
    try:
        url = await invoices.subscription_link(
            bot,
            plan,
            title=i18n("pay-sub-title"),
            description=i18n("pay-sub-description", credits=plan.credits),
            label=i18n("pay-price-label", credits=plan.credits),
        )
    except TelegramAPIError as exc:
        log.warning("createInvoiceLink failed: %s", exc)
        await query.answer(i18n("pay-invoice-failed"), show_alert=True)
        return
    await bot.send_message(
        query.from_user.id,
        i18n("pay-sub-link-text", stars=plan.stars, credits=plan.credits),
        reply_markup=subscribe_link_keyboard(i18n, url, plan.stars),
    )
    await query.answer()


# -- paying ------------------------------------------------------------------------------------


async def pre_checkout(
    query: PreCheckoutQuery, session: AsyncSession, user: User, i18n: I18n, payments: Payments
) -> None:
    refusal = await purchases.check_pre_checkout(
        session,
        payments.catalogue,
        user,
        payload=query.invoice_payload,
        currency=query.currency,
        total_amount=query.total_amount,
        enabled=payments.settings.enabled,
    )
    await finish_reading(session)
    if refusal is None:
        await query.answer(ok=True)
        return
    log.info("pre-checkout refused for user %s: %s", user.id, refusal)
    await query.answer(ok=False, error_message=i18n(f"pay-refused-{refusal.value}"))


async def successful_payment(
    message: Message, session: AsyncSession, user: User, i18n: I18n, payments: Payments
) -> None:
    """Telegram has taken the Stars. The service commits the charge first, on its own, then the
    credit; a failure in between is retried (error boundary, redelivery, the reconciliation job),
    and the user is never told to pay again (see `ErrorBoundaryMiddleware`: "credits on the
    way")."""
    paid = message.successful_payment
    assert paid is not None
    expiration = (
        datetime.fromtimestamp(paid.subscription_expiration_date, UTC)
        if paid.subscription_expiration_date
        else None
    )
    charge_id = paid.telegram_payment_charge_id
    try:
        receipt = await purchases.record_successful_payment(
            session,
            payments.catalogue,
            user_id=user.id,
            charge_id=charge_id,
            payload=paid.invoice_payload,
            currency=paid.currency,
            total_amount=paid.total_amount,
            is_recurring=bool(paid.is_recurring),
            is_first_recurring=bool(paid.is_first_recurring),
            subscription_expiration=expiration,
            billing=payments.billing,
        )
    except ChargeIdTooLong:
        # Telegram's ids are ~40 characters; one this long is not a charge we can key on.
        log.error("payment from user %s: charge id of %d characters", user.id, len(charge_id))
        await message.answer(i18n("pay-receipt-unknown"))
        return
    if receipt.duplicate:
        return
    if receipt.flag is not None:
        await message.answer(i18n("pay-receipt-unknown"))
        return
    args: dict[str, object] = {
        "stars": receipt.stars,
        "credits": receipt.credits,
        "balance": receipt.balance,
    }
    if receipt.expires_at is not None:
        args["date"] = _date(receipt.expires_at)
    key = {
        PaymentKind.PACK: "pay-receipt-pack",
        PaymentKind.SUBSCRIPTION: "pay-receipt-subscription",
        PaymentKind.RENEWAL: "pay-receipt-renewal",
    }[receipt.kind]
    await message.answer(i18n(key, **args))


async def refunded_payment(
    message: Message, session: AsyncSession, user: User, i18n: I18n, payments: Payments
) -> None:
    refunded = message.refunded_payment
    assert refunded is not None
    outcome = await refunds.record_telegram_refund(
        session,
        user_id=user.id,
        charge_id=refunded.telegram_payment_charge_id,
        billing=payments.billing,
    )
    if outcome is None or not outcome.changed:
        return
    text = i18n(
        "pay-refunded-notice",
        stars=outcome.stars,
        reversed=outcome.credits_reversed,
        balance=outcome.balance,
    )
    if outcome.shortfall:
        text += "\n" + i18n("pay-refunded-shortfall", shortfall=outcome.shortfall)
    await message.answer(text)


# -- subscription ------------------------------------------------------------------------------


def _subscription_text(i18n: I18n, sub: StarSubscription, credits: int) -> str:
    key = {
        SubscriptionState.ACTIVE: "pay-sub-active",
        SubscriptionState.CANCELED: "pay-sub-canceled",
        SubscriptionState.FAILED: "pay-sub-failed",
    }[sub.state]
    return i18n(key, date=_date(sub.expires_at), credits=credits)


def _controls(i18n: I18n, sub: StarSubscription) -> InlineKeyboardMarkup | None:
    if sub.state is SubscriptionState.FAILED:
        return None  # the payment is settled in Telegram, not here
    return subscription_keyboard(i18n, sub.plan_id, renewing=sub.state is SubscriptionState.ACTIVE)


async def show_subscription(
    message: Message, session: AsyncSession, user: User, i18n: I18n, payments: Payments
) -> None:
    plan = payments.catalogue.subscription
    if plan is None:
        await message.answer(i18n("pay-buy-empty"))
        return
    sub = await subscriptions.current_subscription(session, user.id, plan.id)
    await finish_reading(session)
    if sub is None:
        await message.answer(
            i18n("pay-sub-none"), reply_markup=subscription_keyboard(i18n, plan.id, renewing=None)
        )
        return
    await message.answer(
        _subscription_text(i18n, sub, plan.credits), reply_markup=_controls(i18n, sub)
    )


async def change_renewal(
    query: CallbackQuery,
    callback_data: PayCD,
    session: AsyncSession,
    user: User,
    i18n: I18n,
    payments: Payments,
    bot: Bot,
) -> None:
    enable = callback_data.action is PayAction.RENEWAL_ON
    try:
        sub = await subscriptions.set_renewal(
            session,
            bot,
            user_id=user.id,
            plan_id=callback_data.item,
            enabled=enable,
            billing=payments.billing,
        )
    except NoSubscription:
        await query.answer(i18n("pay-sub-not-current"), show_alert=True)
        return
    except SubscriptionEditFailed:
        await query.answer(i18n("pay-sub-edit-failed"), show_alert=True)
        return
    done = i18n(
        "pay-sub-resume-done" if enable else "pay-sub-cancel-done", date=_date(sub.expires_at)
    )
    await query.answer(done)
    if isinstance(query.message, Message):
        plan = payments.catalogue.subscription
        credits = plan.credits if plan is not None else 0
        await query.message.edit_text(
            _subscription_text(i18n, sub, credits), reply_markup=_controls(i18n, sub)
        )


async def subscription_updated(
    event: BotSubscriptionUpdated,
    session: AsyncSession,
    user: User,
    i18n: I18n,
    payments: Payments,
    bot: Bot,
) -> None:
    before = await _state_of(session, user.id, event.invoice_payload)
    sub = await subscriptions.apply_subscription_update(
        session,
        user_id=user.id,
        invoice_payload=event.invoice_payload,
        state=event.state,
        billing=payments.billing,
    )
    if sub is None or sub.state is before:
        return
    await bot.send_message(
        user.id, i18n(f"pay-sub-update-{sub.state.value}", date=_date(sub.expires_at))
    )


async def _state_of(session: AsyncSession, user_id: int, payload: str) -> SubscriptionState | None:
    try:
        plan_id = decode_payload(payload).item_id
    except PayloadError:
        return None
    sub = await purchases.subscription_of(session, user_id, plan_id)
    return None if sub is None else sub.state


# -- support and refunds -----------------------------------------------------------------------


async def paysupport(
    message: Message, session: AsyncSession, user: User, i18n: I18n, payments: Payments
) -> None:
    settings = payments.settings
    text = i18n("pay-support-text", hours=settings.auto_refund_hours)
    recent = await history.user_refundable(
        session, user.id, days=settings.refund_list_days, limit=settings.refund_list_limit
    )
    await finish_reading(session)
    if not recent:
        await message.answer(
            text + "\n\n" + i18n("pay-support-none", days=settings.refund_list_days)
        )
        return
    await message.answer(
        text + "\n\n" + i18n("pay-support-pick"), reply_markup=refund_picker(i18n, recent)
    )


async def pick_refund(
    query: CallbackQuery, callback_data: PayCD, session: AsyncSession, user: User, i18n: I18n
) -> None:
    payment = await session.get(Payment, callback_data.payment)
    await finish_reading(session)
    if payment is None or payment.user_id != user.id:
        await query.answer(i18n("pay-refund-refused-not-found"), show_alert=True)
        return
    if payment.status is not PaymentStatus.PAID:
        await query.answer(i18n("pay-refund-refused-already-refunded"), show_alert=True)
        return
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(
            i18n("pay-refund-confirm", stars=payment.stars, credits=payment.credits),
            reply_markup=refund_confirm(i18n, payment.id),
        )


async def confirm_refund(
    query: CallbackQuery,
    callback_data: PayCD,
    session: AsyncSession,
    user: User,
    i18n: I18n,
    payments: Payments,
    bot: Bot,
) -> None:
    try:
        outcome = await refunds.request_refund(
            session,
            bot,
            payments.settings,
            payment_id=callback_data.payment,
            user_id=user.id,
            billing=payments.billing,
        )
    except RefundRefused as exc:
        text = i18n(
            f"pay-refund-refused-{exc.reason.value}", hours=payments.settings.auto_refund_hours
        )
        await query.answer()
        await _replace(query, text)
        if exc.reason is RefundRefusal.TELEGRAM_REFUSED:
            log.warning("user refund of payment %s failed at Telegram", callback_data.payment)
        return
    await query.answer()
    await _replace(
        query,
        i18n(
            "pay-refund-done",
            stars=outcome.stars,
            reversed=outcome.credits_reversed,
            balance=outcome.balance,
        ),
    )


async def keep_payment(query: CallbackQuery, i18n: I18n) -> None:
    await query.answer()
    await _replace(query, i18n("pay-refund-kept"))


async def _replace(query: CallbackQuery, text: str) -> None:
    if isinstance(query.message, Message):
        await query.message.edit_text(text, reply_markup=None)
    elif query.bot is not None:
        await query.bot.send_message(query.from_user.id, text)


async def terms(message: Message, i18n: I18n, payments: Payments) -> None:
    await message.answer(i18n("pay-terms", hours=payments.settings.auto_refund_hours))


def setup() -> Router:
    router = Router(name="payments")
    router.message.register(buy, Command("buy"))
    router.message.register(show_subscription, Command("subscription"))
    router.message.register(paysupport, Command("paysupport"))
    router.message.register(terms, Command("terms"))
    router.message.register(successful_payment, F.successful_payment)
    router.message.register(refunded_payment, F.refunded_payment)
    router.pre_checkout_query.register(pre_checkout)
    router.subscription.register(subscription_updated)
    router.callback_query.register(send_pack_invoice, PayCD.filter(F.action == PayAction.BUY))
    router.callback_query.register(
        send_subscription_link, PayCD.filter(F.action == PayAction.SUBSCRIBE)
    )
    router.callback_query.register(
        change_renewal, PayCD.filter(F.action.in_({PayAction.RENEWAL_ON, PayAction.RENEWAL_OFF}))
    )
    router.callback_query.register(pick_refund, PayCD.filter(F.action == PayAction.REFUND_PICK))
    router.callback_query.register(
        confirm_refund, PayCD.filter(F.action == PayAction.REFUND_CONFIRM)
    )
    router.callback_query.register(keep_payment, PayCD.filter(F.action == PayAction.REFUND_KEEP))
    return router
