"""The ``initData`` check every Mini App API request passes.

Telegram signs ``initData`` with HMAC-SHA256 keyed by HMAC-SHA256("WebAppData", bot token)
(https://core.telegram.org/bots/webapps#validating-data-received-via-the-mini-app); aiogram's
``safe_parse_webapp_init_data`` does exactly that check. We add the age limit: a copied initData
string stops working after ``max_age``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aiogram.utils.web_app import WebAppInitData, safe_parse_webapp_init_data

# A client clock slightly ahead of ours must not make fresh initData look "from the future".
_CLOCK_SKEW = timedelta(minutes=5)


class RefusalReason(enum.StrEnum):
    MISSING = "missing"  # no initData with the request
    INVALID = "invalid"  # bad signature, malformed, or without a user
    STALE = "stale"  # older than the limit
    FORBIDDEN = "forbidden"  # authentic, but this user may not use this route


class InitDataRefused(Exception):
    def __init__(self, reason: RefusalReason) -> None:
        super().__init__(reason.value)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Caller:
    """The Telegram user a request comes from, as Telegram signed it."""

    user_id: int
    language_code: str | None
    auth_date: datetime
    init_data: WebAppInitData


def verify_init_data(
    token: str, raw: str | None, *, max_age: timedelta, now: datetime | None = None
) -> Caller:
    """The caller of a request carrying ``raw`` initData; raises :class:`InitDataRefused`."""
    if not raw:
        raise InitDataRefused(RefusalReason.MISSING)
    try:
        data = safe_parse_webapp_init_data(token, raw)
    except (ValueError, TypeError) as exc:
        raise InitDataRefused(RefusalReason.INVALID) from exc
    if data.user is None:
        raise InitDataRefused(RefusalReason.INVALID)
    signed_at = data.auth_date
    if signed_at.tzinfo is None:
        signed_at = signed_at.replace(tzinfo=UTC)
    current = now or datetime.now(UTC)
    if current - signed_at > max_age or signed_at - current > _CLOCK_SKEW:
        raise InitDataRefused(RefusalReason.STALE)
    return Caller(
        user_id=data.user.id,
        language_code=data.user.language_code,
        auth_date=signed_at,
        init_data=data,
    )
