"""Pre-checkout validation and successful payments.

A successful payment is handled in two steps, each idempotent by the Telegram charge id:
1. `record_charge`: the `payments` row (unique charge id), checked against the catalogue, and
   committed on its own before anything else, so a charge Telegram made is never forgotten;
2. `credit_charge`: the ledger movement keyed by the same charge id, the subscription state and
   `credited_at`, in one transaction, retried until it succeeds (the error boundary; then the
   reconciliation job, which credits any recorded charge still uncredited).
A redelivered or concurrent duplicate finds the charge recorded and credited and changes nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.base import CHARGE_ID_LENGTH, utcnow
from bot.db.models import MovementKind, User
from bot.db.models.payments import (
    ChargeFlag,
    ChargeSource,
    Payment,
    PaymentKind,
    PaymentStatus,
    StarSubscription,
    SubscriptionState,
)
from services import ledger
from services.payments.catalogue import (
    Catalogue,
    ItemKind,
    Payload,
    PayloadError,
    decode_payload,
    encode_payload,
)
from services.payments.config import SUBSCRIPTION_PERIOD_SECONDS
from services.payments.errors import ChargeIdTooLong, UnknownCharge
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
    duplicate: bool  # credited before (or flagged before): nothing changed now
    expires_at: datetime | None
    flag: ChargeFlag | None = None  # recorded, not credited: an operator settles it


@dataclass(frozen=True, slots=True)
class Recorded:
    payment: Payment
    new: bool  # False: the charge id was recorded before (a redelivery or a retry)


def _insert(
    session: AsyncSession, model: type[Payment] | type[StarSubscription] | type[User]
) -> postgresql.Insert | sqlite.Insert:
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)


def check_charge(
    catalogue: Catalogue,
    *,
    payload: str,
    currency: str,
    total_amount: int,
    renewal: bool,
    subscribed_payload: str | None,
) -> tuple[Payload | None, ChargeFlag | None]:
    """Check a charge against the catalogue version its invoice was made from.

    That version is the current item's (pre-checkout refused any other), except for a renewal:
    Telegram renews at the terms the subscriber signed up to, which the subscription row keeps
    (`subscribed_payload`). Anything else (amount 0 or negative, a forged credit count, an
    unknown item) is recorded but not credited.
    """
    if currency != CURRENCY:
        return None, ChargeFlag.CURRENCY
    try:
        parsed = decode_payload(payload)
    except PayloadError:
        return None, ChargeFlag.PAYLOAD
    if total_amount <= 0 or total_amount != parsed.stars or parsed.credits <= 0:
        return parsed, ChargeFlag.AMOUNT
    item = catalogue.get(parsed.kind, parsed.item_id)
    if item is None:
        return parsed, ChargeFlag.ITEM
    current = (
        parsed.version == item.version
        and parsed.stars == item.stars
        and parsed.credits == item.credits
    )
    if current:
        return parsed, None
    if renewal and parsed.kind is ItemKind.SUBSCRIPTION and payload == subscribed_payload:
        return parsed, None
    return parsed, ChargeFlag.TERMS


async def record_charge(
    session: AsyncSession,
    catalogue: Catalogue,
    *,
    user_id: int,
    charge_id: str,
    payload: str,
    currency: str,
    total_amount: int,
    is_recurring: bool = False,
    is_first_recurring: bool = False,
    subscription_expiration: datetime | None = None,
    source: ChargeSource = ChargeSource.UPDATE,
) -> Recorded:
    """Step one of a successful payment: store the charge, keyed by its charge id, before
    anything else; the caller commits at once. Nothing is credited here (`credit_charge`).

    A charge that does not match the catalogue is stored flagged (`Payment.flag`, 0 credits).
    Raises `ChargeIdTooLong` for a charge id the column cannot hold whole.
    """
    if len(charge_id) > CHARGE_ID_LENGTH:
        raise ChargeIdTooLong(str(len(charge_id)))
    renewal = is_recurring and not is_first_recurring
    subscribed: str | None = None
    if renewal:
        with contextlib.suppress(PayloadError):
            sub = await subscription_of(session, user_id, decode_payload(payload).item_id)
            subscribed = sub.payload if sub is not None else None
    parsed, flag = check_charge(
        catalogue,
        payload=payload,
        currency=currency,
        total_amount=total_amount,
        renewal=renewal,
        subscribed_payload=subscribed,
    )
    if parsed is None or parsed.kind is ItemKind.PACK:
        kind = PaymentKind.PACK
    elif renewal:
        kind = PaymentKind.RENEWAL
    else:
        kind = PaymentKind.SUBSCRIPTION
    now = utcnow()
    expires: datetime | None = None
    if parsed is not None and parsed.kind is ItemKind.SUBSCRIPTION:
        expires = subscription_expiration or now + timedelta(seconds=SUBSCRIPTION_PERIOD_SECONDS)
    payment_id = await session.scalar(
        _insert(session, Payment)
        .values(
            charge_id=charge_id,
            user_id=user_id,
            kind=kind,
            # A flagged charge keeps what fits of the payload's words, for the operator.
            item_id=(parsed.item_id if parsed else "?")[:16],
            item_version=(parsed.version if parsed else "")[:8],
            stars=total_amount,
            credits=0 if flag is not None or parsed is None else parsed.credits,
            status=PaymentStatus.PAID,
            credits_reversed=0,
            subscription_expires_at=expires,
            created_at=now,
            flag=flag,
            source=source,
        )
        .on_conflict_do_nothing(index_elements=[Payment.charge_id])
        .returning(Payment.id)
    )
    found = await session.scalar(
        select(Payment)
        .where(Payment.charge_id == charge_id)
        .execution_options(populate_existing=True)
    )
    assert found is not None
    if payment_id is None:
        log.info("payment %s already recorded", found.id)
    elif flag is not None:
        log.warning("payment %s from user %s recorded, not credited: %s", found.id, user_id, flag)
    return Recorded(found, new=payment_id is not None)


async def credit_charge(
    session: AsyncSession, charge_id: str, *, billing: BillingLog | None = None
) -> Receipt:
    """Step two: credit a recorded charge exactly once; the caller commits.

    Safe to run any number of times, concurrently too (the row is locked, and the ledger
    movement is unique per charge id): only the first changes anything.
    """
    payment = await session.scalar(
        select(Payment)
        .where(Payment.charge_id == charge_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if payment is None:
        raise UnknownCharge(charge_id)
    if payment.credited_at is not None or payment.flag is not None:
        return _receipt(payment, await ledger.balance(session, payment.user_id), duplicate=True)
    if payment.status is PaymentStatus.REFUNDED:
        # Refunded before it was credited (an operator settled it): nothing to credit.
        return _receipt(payment, await ledger.balance(session, payment.user_id), duplicate=True)
    movement = (
        MovementKind.RENEWAL if payment.kind is PaymentKind.RENEWAL else MovementKind.PURCHASE
    )
    async with session.begin_nested():
        try:
            balance = await ledger.apply_movement(
                session, payment.user_id, payment.credits, movement, ref=charge_id
            )
        except ledger.DuplicateMovement:
            # Credited by a path that did not set `credited_at` (a copy on SQLite, which has no
            # row locks): the movement is the truth.
            balance = await ledger.balance(session, payment.user_id)
            payment.credited_at = utcnow()
            await session.flush()
            return _receipt(payment, balance, duplicate=True)
        if payment.subscription_expires_at is not None:
            payload = encode_payload(
                Payload(
                    ItemKind.SUBSCRIPTION,
                    payment.item_id,
                    payment.item_version,
                    payment.stars,
                    payment.credits,
                )
            )
            payment.subscription_charge_id = await _track_subscription(
                session,
                payment.user_id,
                payment.item_id,
                charge_id,
                payload,
                payment.kind,
                payment.subscription_expires_at,
            )
        payment.credited_at = utcnow()
        await session.flush()
    log.info(
        "payment %s (%s) credited %s to user %s",
        payment.id,
        payment.kind,
        payment.credits,
        payment.user_id,
    )
    expires = payment.subscription_expires_at
    await record_billing(
        session,
        billing,
        payment.user_id,
        BillingEvent.RENEWAL if payment.kind is PaymentKind.RENEWAL else BillingEvent.PAYMENT,
        {
            "charge_id": charge_id,
            "kind": payment.kind.value,
            "item": payment.item_id,
            "stars": payment.stars,
            "credits": payment.credits,
            "balance": balance,
            "expires_at": int(expires.timestamp()) if expires else None,
        },
    )
    return _receipt(payment, balance, duplicate=False)


def _receipt(payment: Payment, balance: int, *, duplicate: bool) -> Receipt:
    return Receipt(
        payment_id=payment.id,
        kind=payment.kind,
        item_id=payment.item_id,
        stars=payment.stars,
        credits=payment.credits,
        balance=balance,
        duplicate=duplicate,
        expires_at=payment.subscription_expires_at,
        flag=payment.flag,
    )


async def record_successful_payment(
    session: AsyncSession,
    catalogue: Catalogue,
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
    """A `successful_payment`, both steps, each committed before the next begins: the charge is
    durable before anything else, and the credit before the caller tells the user. A flagged
    charge comes back with `flag` set and nothing credited (`duplicate` False the first time).
    Raises `ChargeIdTooLong` (nothing stored)."""
    recorded = await record_charge(
        session,
        catalogue,
        user_id=user_id,
        charge_id=charge_id,
        payload=payload,
        currency=currency,
        total_amount=total_amount,
        is_recurring=is_recurring,
        is_first_recurring=is_first_recurring,
        subscription_expiration=subscription_expiration,
    )
    await session.commit()  # a charge Telegram made is never forgotten, whatever fails next
    receipt = await credit_charge(session, charge_id, billing=billing)
    await session.commit()
    if receipt.flag is not None and recorded.new:
        return dataclasses.replace(receipt, duplicate=False)
    return receipt


async def ensure_user(session: AsyncSession, user_id: int) -> None:
    """A charge found by reconciliation may be of someone who has no row yet (the update that
    would have made it never arrived): an id-only row, as /start makes."""
    await session.execute(
        _insert(session, User).values(id=user_id).on_conflict_do_nothing(index_elements=[User.id])
    )


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
