"""Why a payment operation did not happen; each maps to one localised message."""

from __future__ import annotations

import enum


class PaymentError(Exception):
    pass


class UnknownPayload(PaymentError):
    """A successful payment whose payload this bot cannot read: nothing is credited, the charge
    shows up in reconciliation, and an operator settles it."""


class WrongCurrency(PaymentError):
    pass


class ChargeIdTooLong(PaymentError):
    """A charge id longer than the column holds whole (`bot.db.base.CHARGE_ID_LENGTH`)."""


class UnknownCharge(PaymentError):
    """No recorded payment has this charge id."""


class RefundRefusal(enum.StrEnum):
    NOT_FOUND = "not-found"  # no such payment, or not this user's
    ALREADY_REFUNDED = "already-refunded"
    WINDOW_PASSED = "window-passed"
    MANUAL_ONLY = "manual-only"  # automatic refunds are turned off: an admin decides
    CREDITS_USED = "credits-used"
    TELEGRAM_REFUSED = "telegram-refused"  # refundStarPayment failed


class RefundRefused(PaymentError):
    def __init__(self, reason: RefundRefusal, detail: str = "") -> None:
        super().__init__(f"{reason.value}{': ' + detail if detail else ''}")
        self.reason = reason


class SubscriptionError(PaymentError):
    pass


class NoSubscription(SubscriptionError):
    pass


class SubscriptionEditFailed(SubscriptionError):
    pass
