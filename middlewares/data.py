"""What the middlewares put into handler data, typed in one place.

Handlers declare these names as parameters (`session: AsyncSession`, `user: User`, `i18n: I18n`);
middlewares write them only through the helpers below, never as loose string keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import User
from bot.i18n import I18n
from middlewares.users import UserSnapshot


@dataclass
class Delivery:
    """One update's progress across the error boundary's attempts."""

    attempt: int = 0
    # The de-duplication key is ours: a retry must not find it and skip itself.
    claimed: bool = False
    # Counted once against the sender's rate, however often it is retried.
    throttle_passed: bool = False
    # The user heard "temporarily unavailable" already.
    told_unavailable: bool = False


class MiddlewareData(TypedDict, total=False):
    delivery: Delivery
    # The sender's cached snapshot (absent: not registered, or not a user).
    account: UserSnapshot
    session: AsyncSession
    user: User
    i18n: I18n


def put(data: dict[str, Any], **values: Any) -> None:
    """Store middleware values, checked against `MiddlewareData` by name."""
    for name, value in values.items():
        if name not in MiddlewareData.__annotations__:
            raise KeyError(f"{name} is not a MiddlewareData field")
        data[name] = value


def view(data: dict[str, Any]) -> MiddlewareData:
    """A typed view of the handler data (the same dict)."""
    return data  # type: ignore[return-value]
