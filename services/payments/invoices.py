"""Invoices for packs (`sendInvoice`) and subscription links (`createInvoiceLink`).

Stars invoices: currency XTR, an empty provider token, exactly one price item.
"""

from __future__ import annotations

from aiogram.types import LabeledPrice, Message

from services.payments.catalogue import Item, ItemKind
from services.payments.ports import InvoicePort
from services.payments.purchases import CURRENCY


async def send_pack_invoice(
    port: InvoicePort, chat_id: int, item: Item, *, title: str, description: str, label: str
) -> Message:
    if item.kind is not ItemKind.PACK:
        raise ValueError("send_pack_invoice takes a pack")
    return await port.send_invoice(
        chat_id=chat_id,
        title=title,
        description=description,
        payload=item.payload,
        currency=CURRENCY,
        prices=[LabeledPrice(label=label, amount=item.stars)],
        provider_token="",
    )


async def subscription_link(
    port: InvoicePort, item: Item, *, title: str, description: str, label: str
) -> str:
    if item.kind is not ItemKind.SUBSCRIPTION or item.period_seconds is None:
        raise ValueError("subscription_link takes the subscription")
    return await port.create_invoice_link(
        title=title,
        description=description,
        payload=item.payload,
        currency=CURRENCY,
        prices=[LabeledPrice(label=label, amount=item.stars)],
        provider_token="",
        subscription_period=item.period_seconds,
    )
