"""The catalogue (credit packs and the subscription) and the invoice payload.

The payload names the item and a fingerprint of its terms (kind, id, Stars, credits): the
catalogue version of that item. Changing a price or a credit amount changes the fingerprint, so
an invoice issued before the change is refused at pre-checkout instead of charging a stale price;
other items' invoices stay valid. The payload carries the credits the user was offered, so a
renewal credits what the subscriber signed up for even after the catalogue moved on.
It holds no secret and nothing about the user, and is far below Telegram's 128 bytes.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass

from services.payments.config import PaymentsSettings

PAYLOAD_PREFIX = "lb1"
MAX_PAYLOAD_BYTES = 128


class ItemKind(enum.StrEnum):
    PACK = "p"
    SUBSCRIPTION = "s"


@dataclass(frozen=True, slots=True)
class Item:
    kind: ItemKind
    id: str
    stars: int
    credits: int
    period_seconds: int | None = None

    @property
    def version(self) -> str:
        terms = f"{self.kind.value}:{self.id}:{self.stars}:{self.credits}:{self.period_seconds}"
        return hashlib.sha256(terms.encode()).hexdigest()[:8]

    @property
    def payload(self) -> str:
        return encode_payload(Payload(self.kind, self.id, self.version, self.stars, self.credits))


@dataclass(frozen=True, slots=True)
class Payload:
    kind: ItemKind
    item_id: str
    version: str
    stars: int
    credits: int


class PayloadError(ValueError):
    """Not a payload this bot issued (or one of a format it no longer reads)."""


def encode_payload(payload: Payload) -> str:
    text = ":".join(
        (
            PAYLOAD_PREFIX,
            payload.kind.value,
            payload.item_id,
            payload.version,
            str(payload.stars),
            str(payload.credits),
        )
    )
    if len(text.encode()) > MAX_PAYLOAD_BYTES:
        raise PayloadError("payload longer than 128 bytes")
    return text


def decode_payload(text: str) -> Payload:
    parts = text.split(":")
    if len(parts) != 6 or parts[0] != PAYLOAD_PREFIX:
        raise PayloadError("unknown payload format")
    _, kind, item_id, version, stars, credits = parts
    try:
        return Payload(ItemKind(kind), item_id, version, int(stars), int(credits))
    except ValueError:
        raise PayloadError("malformed payload") from None


class Catalogue:
    """What can be bought now, built once from the settings."""

    def __init__(self, settings: PaymentsSettings) -> None:
        self.packs: tuple[Item, ...] = tuple(
            Item(ItemKind.PACK, p.id, p.stars, p.credits) for p in settings.packs
        )
        sub = settings.subscription
        self.subscription: Item | None = (
            None
            if sub is None
            else Item(ItemKind.SUBSCRIPTION, sub.id, sub.stars, sub.credits, sub.period_seconds)
        )
        self._by_key = {(i.kind, i.id): i for i in self.items()}

    def items(self) -> tuple[Item, ...]:
        return self.packs + ((self.subscription,) if self.subscription else ())

    def get(self, kind: ItemKind, item_id: str) -> Item | None:
        return self._by_key.get((kind, item_id))

    def pack(self, item_id: str) -> Item | None:
        return self.get(ItemKind.PACK, item_id)
