"""Sessions and charging: a user's conversation with a persona, and the price of each message.

Charging: a user message is charged and accepted (its relay row written) in one transaction,
keyed by a keyed hash of (user id, message id), so a redelivered update finds both and charges
nothing. The message is relayed after that commit; if it cannot be relayed, the charge goes back
(a ``release`` movement under the same key, idempotent too) before the user is told. So a message
that was not relayed is never charged, and the desk's queue never holds a database transaction.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.base import utcnow
from bot.db.models import CreditMovement, MovementKind
from bot.db.models.concierge import (
    ConciergePersona,
    ConciergeRelay,
    ConciergeSession,
    RelayDirection,
    RelayState,
    SessionState,
)
from services import ledger
from services.concierge.config import ConciergeSettings
from services.crypto.fields import FieldCipher

PURPOSE_PSEUDONYM = "concierge-pseudonym"
PURPOSE_CHARGE = "concierge-charge"
PURPOSE_NAME = "concierge-name"
PURPOSE_RELAY = "concierge-relay"
MAX_NAME = 40

# Short, neutral words: the pseudonym is what staff call a user, never their Telegram name.
_WORDS = (
    "alder", "birch", "cedar", "dune", "ember", "fern", "grove", "heath",
    "iris", "juniper", "kelp", "larch", "maple", "nectar", "olive", "pine",
    "quartz", "reed", "sage", "thyme", "umber", "vale", "willow", "yarrow",
    "amber", "brook", "clover", "delta", "fjord", "glade", "harbor", "inlet",
)  # fmt: skip


def pseudonym(cipher: FieldCipher, user_id: int) -> str:
    """A stable short name for the user in the desk (keyed: staff cannot work back to the id)."""
    digest = hashlib.sha256(cipher.lookup_hash(PURPOSE_PSEUDONYM, user_id).encode()).digest()
    number = int.from_bytes(digest[:8], "big")
    return f"{_WORDS[number % len(_WORDS)]}-{(number >> 16) % 1000:03d}"


def charge_ref(cipher: FieldCipher, user_id: int, message_id: int) -> str:
    """The ledger ref of one user message (keyed: the ledger, kept for the account's life, holds
    no message id)."""
    return "concierge:" + cipher.lookup_hash(PURPOSE_CHARGE, f"{user_id}:{message_id}")


def expiry(settings: ConciergeSettings, now: datetime | None = None) -> datetime:
    return (now or utcnow()) + timedelta(hours=settings.session_hours)


# ---------------------------------------------------------------------------- sessions


async def current(session: AsyncSession, user_id: int) -> ConciergeSession | None:
    """The user's session that is not closed (the newest, should there be two)."""
    found: ConciergeSession | None = await session.scalar(
        select(ConciergeSession)
        .where(ConciergeSession.user_id == user_id, ConciergeSession.state != SessionState.CLOSED)
        .order_by(ConciergeSession.id.desc())
        .limit(1)
    )
    return found


async def by_thread(session: AsyncSession, thread_id: int) -> ConciergeSession | None:
    found: ConciergeSession | None = await session.scalar(
        select(ConciergeSession)
        .where(ConciergeSession.thread_id == thread_id)
        .order_by(ConciergeSession.id.desc())
        .limit(1)
    )
    return found


async def create(
    session: AsyncSession,
    settings: ConciergeSettings,
    user_id: int,
    persona: ConciergePersona,
    *,
    thread_id: int | None = None,
) -> ConciergeSession:
    row = ConciergeSession(
        user_id=user_id,
        persona_id=persona.id,
        thread_id=thread_id,
        state=SessionState.OPEN,
        shown="",
        expires_at=expiry(settings),
    )
    session.add(row)
    await session.flush()
    return row


def close(settings: ConciergeSettings, row: ConciergeSession) -> bool:
    """Mark closed (False when it already was); purged ``session_hours`` later."""
    if row.state is SessionState.CLOSED:
        return False
    now = utcnow()
    row.state = SessionState.CLOSED
    row.closed_at = now
    row.waiting_since = None
    row.expires_at = expiry(settings, now)
    return True


def set_name(cipher: FieldCipher, row: ConciergeSession, name: str) -> str:
    clean = " ".join(name.split())[:MAX_NAME]
    row.name_enc = cipher.encrypt(PURPOSE_NAME, clean, row_id=row.id)
    return clean


def name_of(cipher: FieldCipher, row: ConciergeSession) -> str | None:
    if row.name_enc is None:
        return None
    return cipher.decrypt_str(PURPOSE_NAME, row.name_enc, row_id=row.id)


async def waiting(session: AsyncSession, limit: int) -> Sequence[ConciergeSession]:
    """Sessions with a user message no staff reply followed, longest waiting first."""
    return (
        await session.scalars(
            select(ConciergeSession)
            .where(
                ConciergeSession.state != SessionState.CLOSED,
                ConciergeSession.waiting_since.is_not(None),
            )
            .order_by(ConciergeSession.waiting_since, ConciergeSession.id)
            .limit(limit)
        )
    ).all()


# ---------------------------------------------------------------------------- relayed messages


def seal(cipher: FieldCipher, session_id: int, content: dict[str, Any]) -> str:
    return cipher.encrypt(PURPOSE_RELAY, json.dumps(content, ensure_ascii=False), row_id=session_id)


def unseal(cipher: FieldCipher, relay: ConciergeRelay) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(
        cipher.decrypt_str(PURPOSE_RELAY, relay.content, row_id=relay.session_id)
    )
    return value


async def relays(
    session: AsyncSession, session_id: int, *, limit: int | None = None
) -> list[ConciergeRelay]:
    """The session's delivered messages (both ways), oldest first; the latest ``limit``."""
    query = (
        select(ConciergeRelay)
        .where(
            ConciergeRelay.session_id == session_id,
            ConciergeRelay.direction != RelayDirection.DRAFT,
            ConciergeRelay.state == RelayState.DELIVERED,
        )
        .order_by(ConciergeRelay.id.desc())
    )
    if limit is not None:
        query = query.limit(limit)
    return list(reversed((await session.scalars(query)).all()))


async def find_relay(
    session: AsyncSession, session_id: int, direction: RelayDirection, source_id: int
) -> ConciergeRelay | None:
    found: ConciergeRelay | None = await session.scalar(
        select(ConciergeRelay).where(
            ConciergeRelay.session_id == session_id,
            ConciergeRelay.direction == direction,
            ConciergeRelay.source_id == source_id,
        )
    )
    return found


def new_relay(
    cipher: FieldCipher,
    settings: ConciergeSettings,
    row: ConciergeSession,
    direction: RelayDirection,
    source_id: int | None,
    content: dict[str, Any],
) -> ConciergeRelay:
    return ConciergeRelay(
        session_id=row.id,
        direction=direction,
        state=RelayState.ACCEPTED,
        source_id=source_id,
        content=seal(cipher, row.id, content),
        expires_at=expiry(settings),
    )


async def add_relay(
    session: AsyncSession,
    cipher: FieldCipher,
    settings: ConciergeSettings,
    row: ConciergeSession,
    direction: RelayDirection,
    source_id: int | None,
    content: dict[str, Any],
) -> ConciergeRelay | None:
    """Write one relay row; None when (session, direction, source) exists (a redelivery)."""
    relay = new_relay(cipher, settings, row, direction, source_id, content)
    try:
        async with session.begin_nested():
            session.add(relay)
            await session.flush()
    except IntegrityError:
        return None
    row.expires_at = expiry(settings)
    return relay


# ---------------------------------------------------------------------------- charging


class LowBalance(Exception):
    def __init__(self, balance: int, price: int) -> None:
        super().__init__(f"balance {balance} below the price {price}")
        self.balance = balance
        self.price = price


@dataclass(frozen=True, slots=True)
class Accepted:
    relay: ConciergeRelay
    # False: a redelivered update; the message was accepted (and charged) before.
    new: bool


async def accept_user_message(
    session: AsyncSession,
    cipher: FieldCipher,
    settings: ConciergeSettings,
    row: ConciergeSession,
    persona: ConciergePersona,
    message_id: int,
    content: dict[str, Any],
) -> Accepted | None:
    """Charge the persona's price and accept the message, in the caller's transaction.

    Raises `LowBalance` (nothing written). None: the message was charged before and its rows are
    gone (purged); nothing to do. The caller commits, then relays.
    """
    before = await find_relay(session, row.id, RelayDirection.USER, message_id)
    if before is not None:
        return Accepted(before, new=False)
    relay = new_relay(cipher, settings, row, RelayDirection.USER, message_id, content)
    try:
        # One savepoint: the relay row (the message's natural key) and its charge, or neither.
        async with session.begin_nested():
            session.add(relay)
            await session.flush()
            await ledger.apply_movement(
                session,
                row.user_id,
                -persona.price,
                MovementKind.USAGE,
                charge_ref(cipher, row.user_id, message_id),
            )
    except ledger.InsufficientCredits as exc:
        raise LowBalance(exc.balance, persona.price) from None
    except ledger.DuplicateMovement:
        return None
    except IntegrityError:
        # A concurrent copy of the update accepted it first.
        found = await find_relay(session, row.id, RelayDirection.USER, message_id)
        return Accepted(found, new=False) if found is not None else None
    row.expires_at = expiry(settings)
    if row.waiting_since is None:
        row.waiting_since = utcnow()
    return Accepted(relay, new=True)


async def refund(
    session: AsyncSession, cipher: FieldCipher, row: ConciergeSession, relay: ConciergeRelay
) -> int:
    """Give back what the message was charged (once, whatever calls it); returns the credits."""
    relay.state = RelayState.FAILED
    ref = charge_ref(cipher, row.user_id, relay.source_id or 0)
    charged = await session.scalar(
        select(CreditMovement.delta).where(
            CreditMovement.kind == MovementKind.USAGE, CreditMovement.ref == ref
        )
    )
    amount = -(charged or 0)
    try:
        await ledger.apply_movement(session, row.user_id, amount, MovementKind.RELEASE, ref)
    except ledger.DuplicateMovement:
        return 0
    return amount
