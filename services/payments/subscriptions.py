"""Subscription state: what /subscription shows, cancelling and re-enabling renewal, and the
`subscription` update (Bot API 10.2) that reports changes made in Telegram's own interface."""

from __future__ import annotations

import logging
from datetime import datetime

from aiogram.exceptions import TelegramAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.base import utcnow
from bot.db.models.payments import StarSubscription, SubscriptionState
from services.payments.catalogue import ItemKind, PayloadError, decode_payload
from services.payments.errors import NoSubscription, SubscriptionEditFailed
from services.payments.ports import BillingEvent, BillingLog, StarsPort
from services.payments.purchases import record_billing, subscription_of

log = logging.getLogger(__name__)

# BotSubscriptionUpdated.state → ours
_TELEGRAM_STATES = {
    "active": SubscriptionState.ACTIVE,
    "canceled": SubscriptionState.CANCELED,
    "failed": SubscriptionState.FAILED,
}


def is_current(sub: StarSubscription, now: datetime | None = None) -> bool:
    return sub.expires_at > (now or utcnow())


async def current_subscription(
    session: AsyncSession, user_id: int, plan_id: str
) -> StarSubscription | None:
    """The user's subscription while its paid period lasts, else None."""
    sub = await subscription_of(session, user_id, plan_id)
    return sub if sub is not None and is_current(sub) else None


async def set_renewal(
    session: AsyncSession,
    stars: StarsPort,
    *,
    user_id: int,
    plan_id: str,
    enabled: bool,
    billing: BillingLog | None = None,
) -> StarSubscription:
    """Cancel (enabled=False) or re-enable renewal through `editUserStarSubscription`.

    Raises `NoSubscription` when there is no current period, `SubscriptionEditFailed` when
    Telegram refuses (the state is unchanged then). The change is committed on return.
    """
    sub = await current_subscription(session, user_id, plan_id)
    if sub is None:
        raise NoSubscription(plan_id)
    wanted = SubscriptionState.ACTIVE if enabled else SubscriptionState.CANCELED
    if sub.state is wanted:
        return sub
    try:
        await stars.edit_user_star_subscription(
            user_id=user_id, telegram_payment_charge_id=sub.charge_id, is_canceled=not enabled
        )
    except TelegramAPIError as exc:
        log.warning("editUserStarSubscription for user %s failed: %s", user_id, exc)
        raise SubscriptionEditFailed(str(exc)) from None
    sub.state = wanted
    await session.flush()
    await record_billing(
        session,
        billing,
        user_id,
        BillingEvent.SUBSCRIPTION,
        {"plan": plan_id, "state": wanted.value, "expires_at": int(sub.expires_at.timestamp())},
    )
    await session.commit()
    return sub


async def apply_subscription_update(
    session: AsyncSession,
    *,
    user_id: int,
    invoice_payload: str,
    state: str,
    billing: BillingLog | None = None,
) -> StarSubscription | None:
    """Follow Telegram's report of a subscription's new state (a change is committed on
    return); None when we do not know it."""
    try:
        parsed = decode_payload(invoice_payload)
    except PayloadError:
        log.warning("subscription update with a foreign payload (user %s)", user_id)
        return None
    new_state = _TELEGRAM_STATES.get(state)
    if parsed.kind is not ItemKind.SUBSCRIPTION or new_state is None:
        log.warning("subscription update not understood (user %s, state %r)", user_id, state)
        return None
    sub = await subscription_of(session, user_id, parsed.item_id)
    if sub is None:
        log.warning("subscription update for an unknown subscription (user %s)", user_id)
        return None
    if sub.state is not new_state:
        sub.state = new_state
        await session.flush()
        await record_billing(
            session,
            billing,
            user_id,
            BillingEvent.SUBSCRIPTION,
            {
                "plan": parsed.item_id,
                "state": new_state.value,
                "expires_at": int(sub.expires_at.timestamp()),
            },
        )
        await session.commit()
    return sub
