"""The admin panel's buttons: one typed CallbackData, an Enum of actions, a back button on every
screen. The data says only which screen or step was asked for; the handler re-checks the role and
keeps amounts, targets and pending confirmations on the server."""

from __future__ import annotations

import enum
from collections.abc import Sequence

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, WebAppInfo
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.i18n import I18n
from keyboards.concierge import staff_role_button
from services.admin.ports import AttentionRow, PaymentRow


class AdminAction(enum.StrEnum):
    MENU = "m"
    STATS = "st"
    CHART = "ch"
    USERS = "u"
    CARD = "c"
    GRANT = "g"
    DEDUCT = "d"
    BAN = "b"
    UNBAN = "ub"
    PAYMENTS = "p"
    ATTENTION = "at"  # payments that need a person
    REFUND = "r"
    BROADCAST = "bc"
    PREVIEW = "pv"  # the broadcast draft, waiting for its audience
    AUDIENCE = "au"
    AUDIENCE_DAYS = "ad"
    SYSTEM = "sy"
    PURGE = "pu"
    CONFIRM = "ok"  # arg: which `Confirm`, ref: its single-use nonce
    DISABLED = "na"


class Audiences(enum.StrEnum):
    ALL = "all"
    JA = "ja"
    EN = "en"
    ACTIVE_7 = "a7"
    ACTIVE_30 = "a30"


class Confirm(enum.IntEnum):
    """What a confirm button confirms: each kind has its own handler."""

    AMOUNT = 1  # a grant or a deduction
    BAN = 2
    REFUND = 3
    BROADCAST = 4
    PURGE = 5


class Unavailable(enum.StrEnum):
    PAYMENTS = "pay"
    PURGE = "purge"


class AdminCD(CallbackData, prefix="adm1"):
    action: AdminAction
    arg: int = 0
    ref: str = ""


def _cd(action: AdminAction, arg: int = 0, ref: str = "") -> str:
    return AdminCD(action=action, arg=arg, ref=ref).pack()


def _button(text: str, action: AdminAction, arg: int = 0, ref: str = "") -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=_cd(action, arg, ref))


def back_button(
    i18n: I18n, to: AdminAction = AdminAction.MENU, arg: int = 0, ref: str = ""
) -> InlineKeyboardButton:
    return _button(i18n("admin-btn-back"), to, arg, ref)


def back_only(
    i18n: I18n, to: AdminAction = AdminAction.MENU, arg: int = 0, ref: str = ""
) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[back_button(i18n, to, arg, ref)]])


def menu(i18n: I18n, *, payments: bool, dashboard_url: str | None = None) -> InlineKeyboardMarkup:
    pay = (
        _button(i18n("admin-btn-payments"), AdminAction.PAYMENTS)
        if payments
        else _button(i18n("admin-btn-payments-off"), AdminAction.DISABLED, ref=Unavailable.PAYMENTS)
    )
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                _button(i18n("admin-btn-stats"), AdminAction.STATS),
                _button(i18n("admin-btn-users"), AdminAction.USERS),
            ],
            [pay, _button(i18n("admin-btn-broadcast"), AdminAction.BROADCAST)],
            *([[_button(i18n("admin-btn-attention"), AdminAction.ATTENTION)]] if payments else []),
            [_button(i18n("admin-btn-system"), AdminAction.SYSTEM)],
            # The dashboard Mini App, when the bot has a public https address (WEBAPP__PUBLIC_URL).
            *([[_dashboard_button(i18n, dashboard_url)]] if dashboard_url else []),
        ]
    )


def _dashboard_button(i18n: I18n, url: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=i18n("dashboard-btn-open"), web_app=WebAppInfo(url=url))


def stats(i18n: I18n) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                _button(i18n("admin-btn-chart"), AdminAction.CHART),
                _button(i18n("admin-btn-refresh"), AdminAction.STATS),
            ],
            [back_button(i18n)],
        ]
    )


def card(i18n: I18n, user_id: int, *, banned: bool) -> InlineKeyboardMarkup:
    ban = (
        _button(i18n("admin-btn-unban"), AdminAction.UNBAN, user_id)
        if banned
        else _button(i18n("admin-btn-ban"), AdminAction.BAN, user_id)
    )
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                _button(i18n("admin-btn-grant"), AdminAction.GRANT, user_id),
                _button(i18n("admin-btn-deduct"), AdminAction.DEDUCT, user_id),
            ],
            [ban, _button(i18n("admin-btn-another-user"), AdminAction.USERS)],
            [staff_role_button(i18n, user_id)],
            [back_button(i18n)],
        ]
    )


def confirm(
    i18n: I18n, kind: Confirm, nonce: str, back: AdminAction = AdminAction.MENU, arg: int = 0
) -> InlineKeyboardMarkup:
    """Confirm, or cancel back to the screen the step came from (any press but this confirm
    drops the pending step)."""
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                _button(i18n("admin-btn-confirm"), AdminAction.CONFIRM, kind, nonce),
                _button(i18n("admin-btn-cancel"), back, arg),
            ],
        ]
    )


def audience(i18n: I18n) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.row(_button(i18n("admin-btn-aud-all"), AdminAction.AUDIENCE, ref=Audiences.ALL))
    builder.row(
        _button(i18n("admin-btn-aud-ja"), AdminAction.AUDIENCE, ref=Audiences.JA),
        _button(i18n("admin-btn-aud-en"), AdminAction.AUDIENCE, ref=Audiences.EN),
    )
    builder.row(
        _button(i18n("admin-btn-aud-active", days=7), AdminAction.AUDIENCE, ref=Audiences.ACTIVE_7),
        _button(
            i18n("admin-btn-aud-active", days=30), AdminAction.AUDIENCE, ref=Audiences.ACTIVE_30
        ),
    )
    builder.row(_button(i18n("admin-btn-aud-days"), AdminAction.AUDIENCE_DAYS))
    builder.row(_button(i18n("admin-btn-bc-edit"), AdminAction.BROADCAST), back_button(i18n))
    return builder.as_markup()


def system(i18n: I18n, *, purge: bool) -> InlineKeyboardMarkup:
    purge_button = (
        _button(i18n("admin-btn-purge"), AdminAction.PURGE)
        if purge
        else _button(i18n("admin-btn-purge-off"), AdminAction.DISABLED, ref=Unavailable.PURGE)
    )
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [purge_button, _button(i18n("admin-btn-refresh"), AdminAction.SYSTEM)],
            [back_button(i18n)],
        ]
    )


def attention(i18n: I18n, rows: Sequence[AttentionRow]) -> InlineKeyboardMarkup:
    """A refund button for each payment still refundable, then back to the menu."""
    builder = InlineKeyboardBuilder()
    for row in rows:
        if row.refundable:
            builder.row(
                _button(
                    i18n("admin-btn-refund", id=str(row.id), stars=row.stars),
                    AdminAction.REFUND,
                    row.id,
                )
            )
    builder.row(back_button(i18n))
    return builder.as_markup()


def payments(
    i18n: I18n, rows: Sequence[PaymentRow], page: int, *, has_next: bool
) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for row in rows:
        if not row.refunded:
            builder.row(
                _button(
                    i18n("admin-btn-refund", id=str(row.id), stars=row.stars),
                    AdminAction.REFUND,
                    row.id,
                )
            )
    nav: list[InlineKeyboardButton] = []
    if page > 0:
        nav.append(_button(i18n("admin-btn-prev"), AdminAction.PAYMENTS, page - 1))
    if has_next:
        nav.append(_button(i18n("admin-btn-next"), AdminAction.PAYMENTS, page + 1))
    if nav:
        builder.row(*nav)
    builder.row(back_button(i18n))
    return builder.as_markup()
