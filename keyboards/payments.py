"""Payment keyboards: the /buy catalogue, /subscription controls, /paysupport refund picker."""

from __future__ import annotations

import enum
from collections.abc import Sequence

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.db.models.payments import Payment
from bot.i18n import I18n
from services.payments.catalogue import Catalogue


class PayAction(enum.StrEnum):
    BUY = "buy"  # send the pack's invoice
    SUBSCRIBE = "sub"  # send the subscription link
    RENEWAL_OFF = "off"
    RENEWAL_ON = "on"
    REFUND_PICK = "rp"  # a payment chosen in /paysupport: ask to confirm
    REFUND_CONFIRM = "rc"
    REFUND_KEEP = "rk"


class PayCD(CallbackData, prefix="pay1"):
    action: PayAction
    item: str = ""
    payment: int = 0


def catalogue_keyboard(i18n: I18n, catalogue: Catalogue) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for pack in catalogue.packs:
        builder.button(
            text=i18n("pay-pack-button", credits=pack.credits, stars=pack.stars),
            callback_data=PayCD(action=PayAction.BUY, item=pack.id),
        )
    sub = catalogue.subscription
    if sub is not None:
        builder.button(
            text=i18n("pay-sub-button", credits=sub.credits, stars=sub.stars),
            callback_data=PayCD(action=PayAction.SUBSCRIBE, item=sub.id),
        )
    builder.adjust(1)
    return builder.as_markup()


def subscribe_link_keyboard(i18n: I18n, url: str, stars: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=i18n("pay-sub-link-button", stars=stars), url=url)
    return builder.as_markup()


def subscription_keyboard(
    i18n: I18n, plan_id: str, *, renewing: bool | None
) -> InlineKeyboardMarkup:
    """`renewing`: None when there is no current subscription (offer one)."""
    builder = InlineKeyboardBuilder()
    if renewing is None:
        builder.button(
            text=i18n("pay-sub-subscribe-button"),
            callback_data=PayCD(action=PayAction.SUBSCRIBE, item=plan_id),
        )
    elif renewing:
        builder.button(
            text=i18n("pay-sub-cancel-button"),
            callback_data=PayCD(action=PayAction.RENEWAL_OFF, item=plan_id),
        )
    else:
        builder.button(
            text=i18n("pay-sub-resume-button"),
            callback_data=PayCD(action=PayAction.RENEWAL_ON, item=plan_id),
        )
    return builder.as_markup()


def refund_picker(i18n: I18n, payments: Sequence[Payment]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for p in payments:
        builder.button(
            text=i18n(
                "pay-support-item",
                date=p.created_at.strftime("%Y-%m-%d"),
                stars=p.stars,
                credits=p.credits,
            ),
            callback_data=PayCD(action=PayAction.REFUND_PICK, payment=p.id),
        )
    builder.adjust(1)
    return builder.as_markup()


def refund_confirm(i18n: I18n, payment_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=i18n("pay-refund-yes"),
        callback_data=PayCD(action=PayAction.REFUND_CONFIRM, payment=payment_id),
    )
    builder.button(
        text=i18n("pay-refund-no"),
        callback_data=PayCD(action=PayAction.REFUND_KEEP, payment=payment_id),
    )
    builder.adjust(2)
    return builder.as_markup()
