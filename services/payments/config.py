"""Settings section for Stars payments: composed into ``bot.settings.Settings`` as
``settings.payments``.

Environment variables use the ``PAYMENTS__`` prefix; the catalogue is JSON in one variable, e.g.
``PAYMENTS__PACKS='[{"id":"s","stars":50,"credits":500}]'`` and
``PAYMENTS__SUBSCRIPTION='{"id":"monthly","stars":250,"credits":3000}'``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

# Telegram allows exactly one subscription period (30 days) and at most 10,000 Stars a period.
SUBSCRIPTION_PERIOD_SECONDS: Literal[2592000] = 2592000
MAX_SUBSCRIPTION_STARS = 10_000
# What one invoice may ask for (Telegram's own upper bound for one XTR payment).
MAX_INVOICE_STARS = 100_000

ItemId = str


class PackSettings(BaseModel):
    """A one-time credit pack. Titles and descriptions come from the catalogues (ja, en)."""

    id: ItemId = Field(pattern=r"^[a-z0-9_]{1,16}$")
    stars: int = Field(ge=1, le=MAX_INVOICE_STARS)
    credits: int = Field(ge=1)


class SubscriptionSettings(BaseModel):
    """The monthly subscription: `credits` are added at the first payment and every renewal."""

    id: ItemId = Field(default="monthly", pattern=r"^[a-z0-9_]{1,16}$")
    stars: int = Field(default=250, ge=1, le=MAX_SUBSCRIPTION_STARS)
    credits: int = Field(default=3_000, ge=1)
    period_seconds: Literal[2592000] = SUBSCRIPTION_PERIOD_SECONDS


def _default_packs() -> list[PackSettings]:
    return [
        PackSettings(id="small", stars=50, credits=500),
        PackSettings(id="medium", stars=200, credits=2_200),
        PackSettings(id="large", stars=500, credits=6_000),
    ]


class PaymentsSettings(BaseModel):
    """The catalogue and the refund policy (see docs/payments.md)."""

    enabled: bool = True
    packs: list[PackSettings] = Field(default_factory=_default_packs)
    subscription: SubscriptionSettings | None = Field(default_factory=SubscriptionSettings)

    auto_refund_hours: int = Field(default=48, ge=0, le=24 * 90)
    """A user's own refund request (/paysupport) is granted automatically within this many
    hours of the payment when none of its credits were used; 0 turns automatic refunds off."""
    reconcile_hours: int = Field(default=24, ge=0, le=24 * 7)
    """How often the ledger is reconciled against `getStarTransactions` (0: never)."""
    refund_list_days: int = Field(default=30, ge=1, le=365)
    """How far back /paysupport lists payments the user can ask about."""
    refund_list_limit: int = Field(default=5, ge=1, le=10)

    @model_validator(mode="after")
    def _unique_ids(self) -> PaymentsSettings:
        ids = [p.id for p in self.packs]
        if self.subscription is not None:
            ids.append(self.subscription.id)
        if len(ids) != len(set(ids)):
            raise ValueError("catalogue item ids must be unique (packs and subscription)")
        return self
