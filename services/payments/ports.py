"""What the payments service needs from the outside, as small Protocols.

An aiogram `Bot` satisfies `StarsPort` and `InvoicePort` as it is; tests pass fakes. The billing
log is whatever the log server offers (`services/logserver`), adapted in `bot/app.py`; without a
log server `NullBillingLog` keeps payments working.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Protocol

from aiogram.types import LabeledPrice, Message, StarTransactions
from sqlalchemy.ext.asyncio import AsyncSession


class StarsPort(Protocol):
    async def refund_star_payment(
        self, *, user_id: int, telegram_payment_charge_id: str
    ) -> bool: ...

    async def edit_user_star_subscription(
        self, *, user_id: int, telegram_payment_charge_id: str, is_canceled: bool
    ) -> bool: ...

    async def get_star_transactions(
        self, *, offset: int | None = None, limit: int | None = None
    ) -> StarTransactions: ...


class InvoicePort(Protocol):
    async def send_invoice(
        self,
        *,
        chat_id: int | str,
        title: str,
        description: str,
        payload: str,
        currency: str,
        prices: list[LabeledPrice],
        provider_token: str | None = None,
    ) -> Message: ...

    async def create_invoice_link(
        self,
        *,
        title: str,
        description: str,
        payload: str,
        currency: str,
        prices: list[LabeledPrice],
        business_connection_id: str | None = None,
        provider_token: str | None = None,
        subscription_period: int | None = None,
    ) -> str: ...


class BillingEvent(enum.StrEnum):
    PAYMENT = "payment"
    RENEWAL = "renewal"
    REFUND = "refund"
    SUBSCRIPTION = "subscription"


class BillingLog(Protocol):
    """Records a billing event for the user's Billing topic (encrypted to the user's key).

    Called inside the payment's own transaction (`session`): the record is queued exactly when
    the payment is committed.
    """

    async def record(
        self,
        session: AsyncSession,
        user_id: int,
        kind: BillingEvent,
        body: Mapping[str, object],
    ) -> None: ...


class NullBillingLog:
    """No log server configured: nothing to record."""

    async def record(
        self,
        session: AsyncSession,
        user_id: int,
        kind: BillingEvent,
        body: Mapping[str, object],
    ) -> None:
        return None
