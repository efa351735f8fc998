"""Who sent an update, known without a database round trip on the hot path.

`UserDirectory` keeps a short, per-process cache of the few user fields the update-level
middlewares need (language, ban, last seen). It stays correct across instances: every commit that
changes a user row evicts the entry here at once and, with Redis, on every other instance through
pub/sub. While that channel is down, the cache is bypassed (a lost invalidation must not keep a ban
from taking effect). The handler's own `user: User` is still loaded in the handler's session, so
what it changes is written with its transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from redis.asyncio import Redis
from sqlalchemy import event, inspect
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, UOWTransaction

from bot.db.base import utcnow
from bot.db.models import User, UserStatus
from services import users
from services.admin.identity import ActiveCounter, day_start

log = logging.getLogger(__name__)


class Activity(Protocol):
    """What the admin statistics learn from a user being seen (services/admin/identity.py)."""

    async def note(self, user: User, username: str | None) -> bool:
        """Update what is kept about the user; True to count them as active today."""
        ...


UsernameDigest = Callable[[str], str]

# Writing last_seen on every update would double the writes of a chatty user for no gain.
LAST_SEEN_RESOLUTION = timedelta(minutes=5)
# A bound on staleness for changes no commit hook sees (bulk UPDATEs such as a broadcast marking a
# user who blocked the bot); bans and language changes are evicted at once.
CACHE_TTL_SECONDS = 60.0
CACHE_SIZE = 50_000
# `session.info` key under which a session finds the directory to tell about user changes.
DIRECTORY_INFO_KEY = "libral.user_directory"
_PENDING_INFO_KEY = "libral.user_changes"
# The attributes the snapshot holds: a change to any of them must evict it.
_WATCHED = ("locale", "derived_locale", "status", "last_seen_at", "username_hash")


@dataclass(frozen=True, slots=True)
class UserSnapshot:
    """What the update path needs about a registered user; never written back."""

    id: int
    locale: str | None
    status: UserStatus
    created_at: datetime
    last_seen_at: datetime
    username_hash: str | None
    # The language in use while `locale` is None (see `User.derived_locale`).
    derived_locale: str | None = None

    @property
    def is_banned(self) -> bool:
        return self.status is UserStatus.BANNED

    @classmethod
    def of(cls, user: User) -> UserSnapshot:
        return cls(
            id=user.id,
            locale=user.locale,
            derived_locale=user.derived_locale,
            status=user.status,
            created_at=user.created_at,
            last_seen_at=user.last_seen_at,
            username_hash=user.username_hash,
        )


class _Missing:
    """Cached "no row": a group member who never started the bot costs one query a minute."""


_MISSING = _Missing()


class UserDirectory:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        redis: Redis | None = None,
        channel: str = "libral:users:changed",
        on_seen: Activity | None = None,
        username_digest: UsernameDigest | None = None,
        ttl: float = CACHE_TTL_SECONDS,
        size: int = CACHE_SIZE,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.redis = redis
        self.channel = channel
        self.on_seen = on_seen
        self.username_digest = username_digest
        self.ttl = ttl
        self.size = size
        self._cache: OrderedDict[int, tuple[float, UserSnapshot | _Missing]] = OrderedDict()
        # Bumped by every eviction: a load that raced one must not store what it read.
        self._generation = 0
        # Without Redis there is one process, and every change is seen here.
        self._listening = redis is None
        self._origin = uuid.uuid4().hex
        self._listener: asyncio.Task[None] | None = None
        self._stopping = False
        self._publishing: set[asyncio.Task[None]] = set()
        self._active = ActiveCounter(sessionmaker)

    # --- reads -----------------------------------------------------------------------------

    def peek(self, user_id: int) -> UserSnapshot | None:
        """The cached snapshot, if any; never touches the database."""
        entry = self._cache.get(user_id)
        if entry is None or not self._listening or entry[0] <= time.monotonic():
            return None
        value = entry[1]
        return value if isinstance(value, UserSnapshot) else None

    async def get(self, user_id: int, *, fresh: bool = False) -> UserSnapshot | None:
        """The user's snapshot (None: never registered), from the cache or one query.

        `fresh` reads the row even when cached (money: a checkout must see a ban made by any
        means, a direct SQL edit included).
        """
        entry = None if fresh else self._cache.get(user_id)
        if entry is not None and self._listening and entry[0] > time.monotonic():
            self._cache.move_to_end(user_id)
            value = entry[1]
            return value if isinstance(value, UserSnapshot) else None
        generation = self._generation
        async with self.sessionmaker() as session:
            user = await session.get(User, user_id)
            snapshot = UserSnapshot.of(user) if user is not None else None
            # Read only: end the transaction without a COMMIT round trip's worth of work.
            await session.rollback()
        if generation == self._generation:
            self._store(user_id, snapshot)
        return snapshot

    # --- writes (each in its own short transaction, never held through a handler) ---------

    def seen_due(
        self, snapshot: UserSnapshot, username: str | None, derived_locale: str | None = None
    ) -> bool:
        """Whether this update must write: last seen, the daily activity count, a new @username,
        a new app language for a user who chose none, or a user who blocked the bot writing
        again."""
        now = utcnow()
        if snapshot.status is UserStatus.BLOCKED_BOT:
            return True
        if derived_locale is not None and derived_locale != snapshot.derived_locale:
            return True
        if now - snapshot.last_seen_at >= LAST_SEEN_RESOLUTION:
            return True
        if snapshot.last_seen_at < day_start(now):
            return True
        if self.username_digest is not None:
            digest = self.username_digest(username) if username else None
            if digest != snapshot.username_hash:
                return True
        return False

    async def register(
        self, user_id: int, username: str | None, derived_locale: str | None = None
    ) -> UserSnapshot:
        """Create the row (idempotent) and count the user as seen."""
        snapshot = await self._write(user_id, username, derived_locale)
        # The row was inserted by a Core statement the flush hook does not see: other instances
        # may hold "no row" for this user.
        self.changed({user_id})
        self._store(user_id, snapshot)
        return snapshot

    async def seen(
        self, user_id: int, username: str | None, derived_locale: str | None = None
    ) -> UserSnapshot:
        return await self._write(user_id, username, derived_locale)

    async def _write(
        self, user_id: int, username: str | None, derived_locale: str | None
    ) -> UserSnapshot:
        async with self.sessionmaker() as session:
            user = await users.get_or_create(session, user_id)
            if derived_locale is not None and user.derived_locale != derived_locale:
                user.derived_locale = derived_locale
            active = False
            if self.on_seen is not None:
                # Before `touch`, so the hook still sees when the user was last seen.
                active = await self.on_seen.note(user, username)
            await users.touch(session, user, LAST_SEEN_RESOLUTION)
            snapshot = UserSnapshot.of(user)
            await session.commit()
        if active:
            # After the commit, on its own: the day's count is one row every user shares.
            self._active.add()
        # The commit hook evicted (and told the other instances); store what we just wrote.
        self._store(user_id, snapshot)
        return snapshot

    async def load(self, session: AsyncSession, user_id: int, username: str | None) -> User:
        """The `User` row in the handler's session, registering the sender first if needed."""
        user = await session.get(User, user_id)
        if user is not None:
            return user
        await self.register(user_id, username)
        user = await session.get(User, user_id)
        assert user is not None
        return user

    # --- invalidation ----------------------------------------------------------------------

    def _store(self, user_id: int, value: UserSnapshot | None) -> None:
        self._cache[user_id] = (time.monotonic() + self.ttl, value or _MISSING)
        self._cache.move_to_end(user_id)
        while len(self._cache) > self.size:
            self._cache.popitem(last=False)

    def evict(self, user_ids: Iterable[int]) -> None:
        self._generation += 1
        for user_id in user_ids:
            self._cache.pop(user_id, None)

    def clear(self) -> None:
        self._generation += 1
        self._cache.clear()

    def changed(self, user_ids: set[int]) -> None:
        """Committed changes to these users: evict here now, and everywhere else via Redis."""
        self.evict(user_ids)
        if self.redis is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        message = self._origin + ":" + ",".join(str(i) for i in sorted(user_ids))
        task = loop.create_task(self._publish(message))
        self._publishing.add(task)
        task.add_done_callback(self._publishing.discard)

    async def _publish(self, message: str) -> None:
        assert self.redis is not None
        try:
            await self.redis.publish(self.channel, message)
        except Exception:  # noqa: BLE001 - the others bypass their cache while Redis is down
            log.warning("could not publish a user change; other instances rely on their TTL")

    async def start(self) -> None:
        if self.redis is not None and self._listener is None:
            self._listener = asyncio.create_task(self._listen(), name="user-directory")

    async def stop(self) -> None:
        self._stopping = True
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        for task in list(self._publishing):
            with contextlib.suppress(Exception):
                await task
        await self._active.drain()

    async def _listen(self) -> None:
        assert self.redis is not None
        delay = 0.5
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                # Changes made while we were not listening are unknown: start empty.
                self.clear()
                self._listening = True
                delay = 0.5
                async for message in pubsub.listen():
                    self._on_message(message)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - any failure: bypass the cache and reconnect
                # redis-py may turn our cancellation into a connection error.
                if self._stopping:
                    return
                if self._listening:
                    log.warning("user change channel lost; cache bypassed until it is back")
            finally:
                self._listening = False
                with contextlib.suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call,unused-ignore]
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    def _on_message(self, message: dict[str, Any]) -> None:
        data = message.get("data")
        text = data.decode() if isinstance(data, bytes) else str(data)
        origin, _, ids = text.partition(":")
        if origin == self._origin:
            return
        self.evict(int(i) for i in ids.split(",") if i)


# --- the commit hook: one listener for every session that carries a directory --------------


def _directory_of(session: Session) -> UserDirectory | None:
    directory = session.info.get(DIRECTORY_INFO_KEY)
    return directory if isinstance(directory, UserDirectory) else None


@event.listens_for(Session, "after_flush")
def _collect_user_changes(session: Session, _flush: UOWTransaction) -> None:
    if _directory_of(session) is None:
        return
    changed: set[int] = session.info.setdefault(_PENDING_INFO_KEY, set())
    for obj in session.new:
        if isinstance(obj, User):
            changed.add(obj.id)
    for obj in session.deleted:
        if isinstance(obj, User):
            changed.add(obj.id)
    for obj in session.dirty:
        if isinstance(obj, User):
            attrs = inspect(obj).attrs
            if any(attrs[name].history.has_changes() for name in _WATCHED):
                changed.add(obj.id)


@event.listens_for(Session, "after_commit")
def _publish_user_changes(session: Session) -> None:
    directory = _directory_of(session)
    changed: set[int] | None = session.info.pop(_PENDING_INFO_KEY, None)
    if directory is not None and changed:
        directory.changed(changed)


@event.listens_for(Session, "after_rollback")
def _drop_user_changes(session: Session) -> None:
    session.info.pop(_PENDING_INFO_KEY, None)
