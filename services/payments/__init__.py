"""Telegram Stars payments: catalogue, invoices, pre-checkout, successful payments, renewals,
subscriptions, refunds and reconciliation. Credits move only through `services.ledger`.

Public API (the admin panel uses `refunds.refund` and `history.recent_payments`):
- `Payments`: what handlers receive (catalogue, settings, billing log);
- `purchases.check_pre_checkout`, `purchases.record_successful_payment` (what changes state
  commits before it returns: the handler tells the user after);
- `refunds.refund(session, stars, charge_id, actor)`, `refunds.request_refund`,
  `refunds.record_telegram_refund`;
- `subscriptions.set_renewal`, `subscriptions.apply_subscription_update`;
- `history.recent_payments`, `history.user_refundable`;
- `reconcile.reconcile(session, stars)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from services.payments.catalogue import Catalogue
from services.payments.config import PaymentsSettings
from services.payments.ports import BillingLog, NullBillingLog


@dataclass
class Payments:
    """The long-lived part of the payments feature, built once in `bot/app.py`."""

    settings: PaymentsSettings
    billing: BillingLog = field(default_factory=NullBillingLog)
    catalogue: Catalogue = field(init=False)

    def __post_init__(self) -> None:
        self.catalogue = Catalogue(self.settings)


__all__ = ["BillingLog", "Catalogue", "NullBillingLog", "Payments", "PaymentsSettings"]
