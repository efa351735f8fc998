"""What the admin panel learns from ordinary traffic: a keyed hash of the @username (for look-ups)
and one count per user per day for the activity chart. Nothing else, and no name in clear."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, time, timedelta

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql import Executable

from bot.db.base import utcnow
from bot.db.models import User
from bot.db.models.admin import DailyStat
from bot.state import KeyValueState
from services.crypto.fields import FieldCipher

log = logging.getLogger(__name__)

USERNAME_PURPOSE = "admin.username"


class UsernameHasher:
    """Keyed hash (HMAC under the master key, purpose `admin.username`) of the lowercase username
    without its @; several during a master-key rotation (current first)."""

    def __init__(self, fields: FieldCipher) -> None:
        self.fields = fields

    @staticmethod
    def normalise(username: str) -> str:
        return username.strip().removeprefix("@").lower()

    def __call__(self, username: str) -> str:
        return self.fields.lookup_hash(USERNAME_PURPOSE, self.normalise(username))

    def candidates(self, username: str) -> list[str]:
        return self.fields.lookup_hashes(USERNAME_PURPOSE, self.normalise(username))


def day_start(now: datetime) -> datetime:
    return datetime.combine(now.astimezone(UTC).date(), time(0), tzinfo=UTC)


class ActivityRecorder:
    """Called by the user middleware for every update, before `last_seen_at` moves on."""

    def __init__(self, hasher: UsernameHasher, kv: KeyValueState) -> None:
        self.hasher = hasher
        self.kv = kv

    async def __call__(self, session: AsyncSession, user: User, username: str | None) -> None:
        """Note the update and count the user in `session` (the caller commits)."""
        if await self.note(user, username):
            await count_active(session, day_start(utcnow()))

    async def note(self, user: User, username: str | None) -> bool:
        """Keep the username hash current; True when the user is to be counted as active today
        (once per user and day, even when two updates race or the user is brand new)."""
        digest = self.hasher(username) if username else None
        if user.username_hash != digest:
            user.username_hash = digest
        today = day_start(utcnow())
        fresh = user.last_seen_at == user.created_at
        if user.last_seen_at >= today and not fresh:
            return False
        return await self.kv.set_once(f"adm:act:{today.date().isoformat()}:{user.id}", 86400)


def _count_statement(dialect: str, day: datetime, users: int) -> Executable:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(DailyStat).values(day=day.date(), active_users=users)
    return stmt.on_conflict_do_update(
        index_elements=[DailyStat.day],
        set_={"active_users": DailyStat.active_users + users},
    )


async def count_active(session: AsyncSession, day: datetime, users: int = 1) -> None:
    await session.execute(_count_statement(session.get_bind().dialect.name, day, users))


class ActiveCounter:
    """Counts users active today, outside their own transactions, one writer per process.

    Every user's first update of the day increments the same row. Inside the transaction that
    writes the user, its lock was held until that commit, and a burst of new users queued on it,
    each with a pooled connection. Here the counts go in their own short transaction, and while
    one is being written the next ones add up and go together in the next: no waiting when
    quiet, one row lock at a time under a burst. A count not yet written when the process is
    killed is lost (the figure is a statistic; nothing else depends on it).
    """

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker
        self._pending = 0
        self._writer: asyncio.Task[None] | None = None

    def add(self) -> None:
        self._pending += 1
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write(), name="active-users")

    async def _write(self) -> None:
        while self._pending:
            users, self._pending = self._pending, 0
            try:
                async with self.sessionmaker() as session:
                    await count_active(session, day_start(utcnow()), users)
                    await session.commit()
            except Exception:  # the database is away: written with the next count
                self._pending += users
                log.warning("could not count %d active users yet", users, exc_info=True)
                return

    async def drain(self) -> None:
        """At shutdown: write what is pending."""
        if self._writer is not None:
            await self._writer
        if self._pending:
            await self._write()


def days_back(now: datetime, days: int) -> list[datetime]:
    """The start of each of the last `days` UTC days, oldest first, ending today."""
    today = day_start(now)
    return [today - timedelta(days=n) for n in range(days - 1, -1, -1)]
