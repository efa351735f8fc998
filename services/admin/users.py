"""User management: look-up by id or @username, credits, ban and unban."""

from __future__ import annotations

import enum
import re
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import MovementKind, User, UserStatus
from services import ledger

_USERNAME = re.compile(r"^@?[A-Za-z][A-Za-z0-9_]{3,31}$")
# The largest single grant or deduction an operator can make in one step.
MAX_AMOUNT = 10_000_000


class LookupReason(enum.StrEnum):
    MALFORMED = "malformed"
    NOT_FOUND = "not-found"


class LookupFailed(Exception):
    def __init__(self, reason: LookupReason) -> None:
        super().__init__(reason.value)
        self.reason = reason


async def find_user(session: AsyncSession, query: str, hashes: Callable[[str], list[str]]) -> User:
    """A user by numeric id or by @username (matched through its keyed hash)."""
    text = query.strip()
    user: User | None
    if text.isdigit() and len(text) <= 19:
        user = await session.get(User, int(text))
    elif _USERNAME.match(text):
        user = await session.scalar(
            select(User).where(User.username_hash.in_(hashes(text))).limit(1)
        )
    else:
        raise LookupFailed(LookupReason.MALFORMED)
    if user is None:
        raise LookupFailed(LookupReason.NOT_FOUND)
    return user


def parse_amount(text: str) -> int | None:
    """A positive whole number of credits, or None."""
    cleaned = text.strip().replace(",", "").replace("_", "")
    if not cleaned.isdigit():
        return None
    amount = int(cleaned)
    return amount if 0 < amount <= MAX_AMOUNT else None


async def move_credits(
    session: AsyncSession, user_id: int, amount: int, *, grant: bool, ref: str
) -> int:
    """Grant or deduct through the ledger, idempotent per `ref`; returns the new balance.

    Raises `ledger.InsufficientCredits` for a deduction larger than the balance and
    `ledger.DuplicateMovement` when this confirmation was applied already.
    """
    kind = MovementKind.GRANT if grant else MovementKind.DEDUCT
    return await ledger.apply_movement(session, user_id, amount if grant else -amount, kind, ref)


def set_banned(user: User, banned: bool) -> bool:
    """Ban or unban; False when nothing changed."""
    if banned:
        if user.status is UserStatus.BANNED:
            return False
        user.status = UserStatus.BANNED
        return True
    if user.status is not UserStatus.BANNED:
        return False
    user.status = UserStatus.ACTIVE
    return True
