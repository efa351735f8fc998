"""The daily key check: every linked public key is inspected again, as of now.

The rule, in one place:

* **expired, revoked, or no longer usable for encryption** (all its encryption subkeys expired or
  revoked): logging pauses at once — `record()` stores nothing and queued records wait unsealed —
  with the reason ``key-expired``, ``key-revoked`` or ``key-unusable``; the user is told to send a
  new key. The new key (pasted or from the Mini App) resumes logging, and the waiting records are
  sealed to it. "Resume" on the panel does not resume with an unusable key.
* **expires within `WARN_BEFORE`**: the user is told how many days are left, once a day.
* otherwise nothing.

Registered in `bot/app.py` as the scheduler job ``logserver.keys`` (every 24 h, once per tick
across instances).
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy import select

from bot.db.base import utcnow
from bot.db.models.logserver import LogServer, LogServerState
from services.crypto.port import KeyErrorKind, KeyImportError, OpenPGPEngine
from services.logserver.service import LogServerService

log = logging.getLogger(__name__)

WARN_BEFORE = timedelta(days=7)
Notify = Callable[..., Awaitable[bool]]  # (user_id, message key, **args) -> told


class KeyVerdict(enum.StrEnum):
    OK = "ok"
    EXPIRING = "expiring"
    EXPIRED = "key-expired"
    REVOKED = "key-revoked"
    UNUSABLE = "key-unusable"


def verdict(
    engine: OpenPGPEngine, armored: str, now: datetime
) -> tuple[KeyVerdict, datetime | None]:
    """What the rule says about one key as of `now` (and when it expires)."""
    try:
        info = engine.inspect_public_key(armored, now=now)
    except KeyImportError as exc:
        if exc.kind is KeyErrorKind.EXPIRED:
            return KeyVerdict.EXPIRED, None
        if exc.kind is KeyErrorKind.REVOKED:
            return KeyVerdict.REVOKED, None
        return KeyVerdict.UNUSABLE, None
    if info.expires is not None and info.expires - now <= WARN_BEFORE:
        return KeyVerdict.EXPIRING, info.expires
    return KeyVerdict.OK, info.expires


async def check_keys(
    logserver: LogServerService, notify: Notify, now: datetime | None = None
) -> dict[int, KeyVerdict]:
    """Apply the rule to every linked key; returns the verdict per user (not OK only)."""
    now = now or utcnow()
    engine = logserver.crypto.engine
    async with logserver.sessionmaker() as session:
        servers = (
            await session.scalars(
                select(LogServer).where(
                    LogServer.public_key.is_not(None),
                    LogServer.state != LogServerState.AWAITING_KEY,
                )
            )
        ).all()
    rows = [(s.user_id, logserver.public_key_of(s)) for s in servers]
    found: dict[int, KeyVerdict] = {}
    for user_id, armored in rows:
        if armored is None:
            continue
        result, expires = await asyncio.to_thread(verdict, engine, armored, now)
        if result is KeyVerdict.OK:
            continue
        found[int(user_id)] = result
        if result is KeyVerdict.EXPIRING:
            assert expires is not None
            days = max(0, (expires - now).days)
            await notify(int(user_id), "logserver-key-expiring", days=days)
            continue
        async with logserver.sessionmaker() as session:
            server = await session.get(LogServer, user_id)
            if server is None:
                continue
            newly = await logserver.pause_for_key(session, server, result.value)
            await session.commit()
        if newly:
            log.info("logging paused: the user's key is %s", result.value)
            await notify(int(user_id), f"logserver-key-check-{result.value}")
    return found


async def check_keys_tick(logserver: LogServerService, notify: Notify) -> None:
    """The scheduler job (``logserver.keys``)."""
    await check_keys(logserver, notify)
