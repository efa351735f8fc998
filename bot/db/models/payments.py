"""Stars payments and subscriptions: ids, amounts, states and times only.

Every row is tied to its credit movements by the Telegram charge id (`credit_movements.ref`);
no names, no free text about the user.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.base import CHARGE_ID_LENGTH, Base, str_enum, utcnow


class PaymentKind(enum.StrEnum):
    PACK = "pack"
    SUBSCRIPTION = "subscription"  # the first payment of a subscription
    RENEWAL = "renewal"


class PaymentStatus(enum.StrEnum):
    PAID = "paid"
    REFUNDED = "refunded"


class RefundSource(enum.StrEnum):
    USER = "user"  # granted automatically on the user's own request (/paysupport)
    ADMIN = "admin"
    TELEGRAM = "telegram"  # a refund we learned of from a `refunded_payment` message


class ChargeFlag(enum.StrEnum):
    """Why a recorded charge was not credited: it does not match the catalogue version its
    invoice was made from. An operator settles it (admin panel: refund, or grant by hand)."""

    CURRENCY = "currency"  # not Stars
    PAYLOAD = "payload"  # not a payload this bot issued
    AMOUNT = "amount"  # paid amount not positive or not the payload's price
    ITEM = "item"  # no such item in the catalogue
    TERMS = "terms"  # price/credits/version differ from the catalogue's (and no subscription
    #                  signed up at these terms)


class ChargeSource(enum.StrEnum):
    UPDATE = "update"  # the `successful_payment` message
    RECONCILE = "reconcile"  # found in `getStarTransactions`, never delivered to us


class SubscriptionState(enum.StrEnum):
    ACTIVE = "active"  # renews at the end of the period
    CANCELED = "canceled"  # runs to the end of the period, then ends
    FAILED = "failed"  # the renewal payment failed


class Payment(Base):
    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    charge_id: Mapped[str] = mapped_column(String(CHARGE_ID_LENGTH), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[PaymentKind] = mapped_column(str_enum(PaymentKind))
    item_id: Mapped[str] = mapped_column(String(16))
    item_version: Mapped[str] = mapped_column(String(8))
    stars: Mapped[int]
    credits: Mapped[int]
    status: Mapped[PaymentStatus] = mapped_column(
        str_enum(PaymentStatus), default=PaymentStatus.PAID
    )
    credits_reversed: Mapped[int] = mapped_column(default=0)
    refund_source: Mapped[RefundSource | None] = mapped_column(str_enum(RefundSource), default=None)
    refund_requested_at: Mapped[datetime | None] = mapped_column(default=None)
    # The subscription's first charge id (what editUserStarSubscription names) and the end of
    # the period this payment paid for; both empty for packs.
    subscription_charge_id: Mapped[str | None] = mapped_column(
        String(CHARGE_ID_LENGTH), default=None
    )
    subscription_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    refunded_at: Mapped[datetime | None] = mapped_column(default=None)
    # Recorded first (its own commit), credited after: None until the credit movement exists.
    credited_at: Mapped[datetime | None] = mapped_column(default=None)
    flag: Mapped[ChargeFlag | None] = mapped_column(str_enum(ChargeFlag), default=None)
    source: Mapped[ChargeSource] = mapped_column(
        str_enum(ChargeSource), default=ChargeSource.UPDATE, server_default="update"
    )


class StarSubscription(Base):
    """A user's subscription to a plan, kept in step with Telegram's view of it."""

    __tablename__ = "payment_subscriptions"
    __table_args__ = (UniqueConstraint("user_id", "plan_id", name="uq_payment_subscriptions_user"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    plan_id: Mapped[str] = mapped_column(String(16))
    charge_id: Mapped[str] = mapped_column(String(CHARGE_ID_LENGTH))
    payload: Mapped[str] = mapped_column(String(128))
    state: Mapped[SubscriptionState] = mapped_column(
        str_enum(SubscriptionState), default=SubscriptionState.ACTIVE
    )
    expires_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
