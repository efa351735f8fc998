"""Pre-checkout validation and successful payments.

A successful payment is written in one transaction: the `payments` row (unique charge id), the
ledger movement keyed by the same charge id, and for subscriptions the subscription state. A
redelivered or concurrent duplicate finds the charge id taken and changes nothing.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.base import utcnow
from bot.db.models import MovementKind, User
from bot.db.models.payments import (
    Payment,
    PaymentKind,
    PaymentStatus,
    StarSubscription,
    SubscriptionState,
)
from services import ledger
from services.payments.catalogue import Catalogue, ItemKind, PayloadError, decode_payload
from services.payments.config import SUBSCRIPTION_PERIOD_SECONDS
from services.payments.errors import UnknownPayload, WrongCurrency
from services.payments.ports import BillingEvent, BillingLog, NullBillingLog

log = logging.getLogger(__name__)

CURRENCY = "XTR"


class CheckoutRefusal(enum.StrEnum):
    UNKNOWN_ITEM = "unknown-item"
    STALE = "stale"
    BANNED = "banned"
    ALREADY_SUBSCRIBED = "already-subscribed"
    DISABLED = "disabled"


async def check_pre_checkout(
    session: AsyncSession,
    catalogue: Catalogue,
    user: User,
    *,
    payload: str,
    currency: str,
    total_amount: int,
    enabled: bool = True,
) -> CheckoutRefusal | None:
    """None when the payment may proceed, otherwise why not."""
    if user.is_banned:
        return CheckoutRefusal.BANNED
    if not enabled:
        return CheckoutRefusal.DISABLED
    try:
        parsed = decode_payload(payload)
    except PayloadError:
        return CheckoutRefusal.UNKNOWN_ITEM
    item = catalogue.get(parsed.kind, parsed.item_id)
    if item is None:
        return CheckoutRefusal.UNKNOWN_ITEM
    if (
        currency != CURRENCY
        or parsed.version != item.version
        or total_amount != item.stars
        or parsed.stars != item.stars
        or parsed.credits != item.credits
    ):
        return CheckoutRefusal.STALE
    if item.kind is ItemKind.SUBSCRIPTION:
        current = await subscription_of(session, user.id, item.id)
        if current is not None and current.expires_at > utcnow():
            return CheckoutRefusal.ALREADY_SUBSCRIBED
    return None


@dataclass(frozen=True, slots=True)
class Receipt:
    payment_id: int
    kind: PaymentKind
    item_id: str
    stars: int
    credits: int
    balance: int
    duplicate: bool
    expires_at: datetime | None


def _insert(
    session: AsyncSession, model: type[Payment] | type[StarSubscription]
) -> postgresql.Insert | sqlite.Insert:
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)


async def record_successful_payment(
    session: AsyncSession,
    *,
    user_id: int,
    charge_id: str,
    payload: str,
    currency: str,
    total_amount: int,
    is_recurring: bool = False,
    is_first_recurring: bool = False,
    subscription_expiration: datetime | None = None,
    billing: BillingLog | None = None,
) -> Receipt:
    """Credit a successful payment exactly once per `charge_id`; the caller commits.

    Raises `UnknownPayload` / `WrongCurrency` (nothing written) for a payment this bot cannot
    attribute; reconciliation then reports the charge as unmatched.
    """
    if currency != CURRENCY:
        raise WrongCurrency(currency)
    try:
        parsed = decode_payload(payload)
    except PayloadError as exc:
        raise UnknownPayload(str(exc)) from None

    if parsed.kind is ItemKind.PACK:
        kind, movement = PaymentKind.PACK, MovementKind.PURCHASE
    elif is_recurring and not is_first_recurring:
        kind, movement = PaymentKind.RENEWAL, MovementKind.RENEWAL
    else:
        kind, movement = PaymentKind.SUBSCRIPTION, MovementKind.PURCHASE

    now = utcnow()
    expires: datetime | None = None
    if parsed.kind is ItemKind.SUBSCRIPTION:
        expires = subscription_expiration or now + timedelta(seconds=SUBSCRIPTION_PERIOD_SECONDS)

    async with session.begin_nested():
        payment_id = await session.scalar(
            _insert(session, Payment)
            .values(
                charge_id=charge_id,
                user_id=user_id,
                kind=kind,
                item_id=parsed.item_id,
                item_version=parsed.version,
                stars=total_amount,
                credits=parsed.credits,
                status=PaymentStatus.PAID,
                credits_reversed=0,
                subscription_expires_at=expires,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=[Payment.charge_id])
            .returning(Payment.id)
        )
        if payment_id is None:
            existing = await session.scalar(select(Payment).where(Payment.charge_id == charge_id))
            assert existing is not None
            log.info("payment %s already recorded; nothing changed", existing.id)
            return Receipt(
                payment_id=existing.id,
                kind=existing.kind,
                item_id=existing.item_id,
                stars=existing.stars,
                credits=existing.credits,
                balance=await ledger.balance(session, existing.user_id),
                duplicate=True,
                expires_at=existing.subscription_expires_at,
            )
        balance = await ledger.apply_movement(
            session, user_id, parsed.credits, movement, ref=charge_id
        )
        if expires is not None:
            first_charge = await _track_subscription(
                session, user_id, parsed.item_id, charge_id, payload, kind, expires
            )
            payment = await session.get(Payment, payment_id)
            assert payment is not None
            payment.subscription_charge_id = first_charge
            await session.flush()

    receipt = Receipt(
        payment_id=payment_id,
        kind=kind,
        item_id=parsed.item_id,
        stars=total_amount,
        credits=parsed.credits,
        balance=balance,
        duplicate=False,
        expires_at=expires,
    )
    log.info("payment %s (%s) credited %s to user %s", payment_id, kind, parsed.credits, user_id)
    await record_billing(
        session,
        billing,
        user_id,
        BillingEvent.RENEWAL if kind is PaymentKind.RENEWAL else BillingEvent.PAYMENT,
        {
            "charge_id": charge_id,
            "kind": kind.value,
            "item": parsed.item_id,
            "stars": total_amount,
            "credits": parsed.credits,
            "balance": balance,
            "expires_at": int(expires.timestamp()) if expires else None,
        },
    )
    return receipt


async def _track_subscription(
    session: AsyncSession,
    user_id: int,
    plan_id: str,
    charge_id: str,
    payload: str,
    kind: PaymentKind,
    expires: datetime,
) -> str:
    """Keep the user's subscription row in step; return the subscription's first charge id."""
    values = {
        "user_id": user_id,
        "plan_id": plan_id,
        "charge_id": charge_id,
        "payload": payload,
        "state": SubscriptionState.ACTIVE.value,
        "expires_at": expires,
        "updated_at": utcnow(),
    }
    stmt = _insert(session, StarSubscription).values(**values)
    if kind is PaymentKind.SUBSCRIPTION:
        # A new subscription (or a new one after the old ended) replaces the row.
        update_set = {k: stmt.excluded[k] for k in values if k not in ("user_id", "plan_id")}
    else:
        # A renewal extends the period; the first charge id stays what Telegram knows it by.
        update_set = {
            "state": stmt.excluded.state,
            "updated_at": stmt.excluded.updated_at,
        }
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[StarSubscription.user_id, StarSubscription.plan_id], set_=update_set
        )
    )
    row = await session.scalar(
        select(StarSubscription)
        .where(StarSubscription.user_id == user_id, StarSubscription.plan_id == plan_id)
        .execution_options(populate_existing=True)
    )
    assert row is not None
    if row.expires_at < expires:
        row.expires_at = expires
        await session.flush()
    return row.charge_id


async def subscription_of(
    session: AsyncSession, user_id: int, plan_id: str
) -> StarSubscription | None:
    return await session.scalar(
        select(StarSubscription).where(
            StarSubscription.user_id == user_id, StarSubscription.plan_id == plan_id
        )
    )


async def record_billing(
    session: AsyncSession,
    billing: BillingLog | None,
    user_id: int,
    event: BillingEvent,
    body: dict[str, object],
) -> None:
    """Queue the billing record in the caller's transaction (so it exists exactly when the
    money moved). Its failure never undoes a payment: it is logged (ids only) and skipped."""
    target = billing or NullBillingLog()
    try:
        async with session.begin_nested():
            await target.record(session, user_id, event, body)
    except Exception:  # the money side must not depend on the log server
        log.warning("billing log for user %s (%s) failed", user_id, event, exc_info=True)
