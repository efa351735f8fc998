"""What the middlewares put into handler data, typed in one place.

Handlers declare these names as parameters (`session: AsyncSession`, `user: User`, `i18n: I18n`);
middlewares write them only through the helpers below, never as loose string keys.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
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
    # The sender's rate counter after this update, counted with its de-duplication claim (one
    # round trip); None: not counted there (the throttling middleware counts it itself).
    throttle_count: int | None = None
    # The user heard "temporarily unavailable" already.
    told_unavailable: bool = False
    # Set by the de-duplication middleware once it holds the update's lease: called with True
    # when the update is handled (done, or failed finally and the user told), with False when
    # its handling was cut off (the lease then runs out and a redelivery runs it again).
    settle: Callable[[bool], Awaitable[None]] | None = None


@dataclass
class WebhookDelivery:
    """One webhook request's answer to Telegram, decided while the update is handled."""

    # Another instance (or an earlier delivery) holds this update's lease: answer non-2xx, so
    # that Telegram delivers it again later, when it is either done or its holder died.
    in_progress: bool = False


class MiddlewareData(TypedDict, total=False):
    delivery: Delivery
    # Present in webhook mode only (bot/web.py).
    webhook: WebhookDelivery
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
