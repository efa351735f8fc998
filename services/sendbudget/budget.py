"""One send budget for every Bot API call of every instance: Telegram's flood limits, priorities.

Counted calls (messages and edits, see ``bot.sendbudget.COUNTED``) take a *slot* in two sliding
windows before they go out: their chat's (``private_burst`` per ``private_burst`` seconds in a
private chat, ``group_per_minute`` per minute in a group) and the bot's global one
(``global_per_second``). A slot counts from the moment Telegram answered, which is never
earlier than the moment Telegram counted it, so our windows always cover Telegram's.

Waiting callers are served by priority, then in arrival order: ``HIGH`` (replies, receipts, the
first visible text and the final message of an AI answer — the default), ``DRAFT`` (intermediate
stream updates), ``BULK`` (broadcasts, log batches). Across instances, which order their own
waiters, the lower priorities may fill only a share of the global window, so priority traffic
always finds room.

The windows live in Redis when Redis is configured (atomic Lua scripts, Redis's own clock, so
every instance shares one budget) and in process memory otherwise. While Redis cannot be reached,
each instance keeps the same windows in its own memory: sends (an apology for the outage, say)
still go out within the limits of one instance.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import hashlib
import itertools
import logging
import math
import time
import uuid
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.sendbudget.config import SendBudgetSettings
from services.waiting import wait_set

log = logging.getLogger(__name__)

# Redis down or hung: fall back to this process's own windows.
STORE_ERRORS = (RedisError, OSError, TimeoutError)
# A slot held by a send of another instance frees without waking us: look again this often.
POLL_SECONDS = 0.25


class Priority(IntEnum):
    HIGH = 0
    DRAFT = 1
    BULK = 2


_priority: ContextVar[Priority] = ContextVar("send_priority", default=Priority.HIGH)


@contextlib.contextmanager
def send_priority(priority: Priority) -> Iterator[None]:
    """Bot API calls made inside this block (and tasks started in it) queue at ``priority``."""
    token = _priority.set(priority)
    try:
        yield
    finally:
        _priority.reset(token)


def current_priority() -> Priority:
    return _priority.get()


@dataclass(frozen=True, slots=True)
class Verdict:
    """0 seconds: the slot is taken. Otherwise how long to wait, and whether the global window
    (rather than the chat's) is the one that is full."""

    wait: float
    global_full: bool = False


@dataclass(frozen=True, slots=True)
class Window:
    """``limit`` messages in any ``seconds``; or, with ``bucket``, a token bucket of ``limit``
    (the burst) refilled one every ``seconds`` (GCRA: one theoretical arrival time per chat)."""

    limit: int
    seconds: float
    bucket: bool = False

    def bucket_wait(self, tat: float, now: float) -> float:
        """Seconds until one more message fits the bucket whose arrival time is ``tat``."""
        tolerance = (self.limit - 1) * self.seconds
        return max(0.0, max(tat, now) - tolerance - now)

    def bucket_free(self, tat: float, now: float) -> int:
        tolerance = (self.limit - 1) * self.seconds
        used = max(0.0, tat - now)
        return max(0, min(self.limit, math.floor((tolerance - used) / self.seconds + 1e-9) + 1))


class Store(Protocol):
    async def take(
        self, chat: str, chat_window: Window, global_window: Window, member: str, hold: float
    ) -> Verdict: ...

    async def done(self, chat: str, member: str) -> None: ...

    async def block(self, chat: str, seconds: float) -> None: ...

    async def free(self, chat: str, chat_window: Window, global_window: Window) -> int: ...


class MemoryStore:
    """One process: the same windows in a dict."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._windows: dict[str, dict[str, float]] = {}
        self._blocked: dict[str, float] = {}
        self._tat: dict[str, float] = {}

    def _count(self, key: str, window: Window, now: float) -> dict[str, float]:
        slots = self._windows.setdefault(key, {})
        expired = [m for m, at in slots.items() if at <= now - window.seconds]
        for member in expired:
            del slots[member]
        return slots

    @staticmethod
    def _wait(slots: dict[str, float], window: Window, now: float) -> float:
        if len(slots) < window.limit:
            return 0.0
        ordered = sorted(slots.values())
        return max(0.001, ordered[len(ordered) - window.limit] + window.seconds - now)

    async def take(
        self, chat: str, chat_window: Window, global_window: Window, member: str, hold: float
    ) -> Verdict:
        now = self.clock()
        blocked = self._blocked.get(chat, 0.0) - now
        if blocked > 0:
            return Verdict(blocked)
        if chat_window.bucket:
            tat = self._tat.get(chat, 0.0)
            wait = chat_window.bucket_wait(tat, now)
        else:
            chat_slots = self._count("c:" + chat, chat_window, now)
            wait = self._wait(chat_slots, chat_window, now)
        if wait:
            return Verdict(wait)
        global_slots = self._count("g", global_window, now)
        wait = self._wait(global_slots, global_window, now)
        if wait:
            return Verdict(wait, global_full=True)
        if chat_window.bucket:
            self._tat[chat] = max(tat, now) + chat_window.seconds
        else:
            chat_slots[member] = now + hold
        global_slots[member] = now + hold
        return Verdict(0.0)

    async def done(self, chat: str, member: str) -> None:
        now = self.clock()
        for key in ("c:" + chat, "g"):
            slots = self._windows.get(key)
            if slots is not None and member in slots:
                slots[member] = now
        if len(self._windows) > 10_000:  # chats nobody writes to any more
            self._windows = {k: v for k, v in self._windows.items() if v}
            self._blocked = {k: v for k, v in self._blocked.items() if v > now}
            self._tat = {k: v for k, v in self._tat.items() if v > now}

    async def block(self, chat: str, seconds: float) -> None:
        until = self.clock() + seconds
        self._blocked[chat] = max(self._blocked.get(chat, 0.0), until)

    async def free(self, chat: str, chat_window: Window, global_window: Window) -> int:
        now = self.clock()
        if self._blocked.get(chat, 0.0) > now:
            return 0
        if chat_window.bucket:
            in_chat = chat_window.bucket_free(self._tat.get(chat, 0.0), now)
        else:
            in_chat = chat_window.limit - len(self._count("c:" + chat, chat_window, now))
        overall = len(self._count("g", global_window, now))
        return max(0, min(in_chat, global_window.limit - overall))


# Times are Redis's own (TIME, milliseconds), so instances with skewed clocks agree.
_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
"""

_NEED = """
local function need(key, limit, window)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local n = redis.call('ZCARD', key)
  if n < limit then return 0, limit - n end
  local s = redis.call('ZRANGE', key, n - limit, n - limit, 'WITHSCORES')
  local w = tonumber(s[2]) + window - now
  if w < 1 then w = 1 end
  return w, 0
end
"""

# The chat's token bucket (GCRA): KEYS[4] holds its theoretical arrival time.
_BUCKET = """
local function bucket_tat(key)
  local tat = tonumber(redis.call('GET', key) or '0')
  if tat < now then tat = now end
  return tat
end
"""

# KEYS: global window, chat window, chat block, chat bucket. ARGV: global limit, global ms,
# chat limit, chat ms, member, hold ms, 'b' (bucket) or 'w' (window).
# Returns {0, 0} taken, {1, ms} chat full, {2, ms} global full.
_TAKE = (
    _NOW
    + _NEED
    + _BUCKET
    + """
local blocked = redis.call('PTTL', KEYS[3])
if blocked > 0 then return {1, blocked} end
local climit, cms = tonumber(ARGV[3]), tonumber(ARGV[4])
local tat = 0
if ARGV[7] == 'b' then
  tat = bucket_tat(KEYS[4])
  local w = tat - (climit - 1) * cms - now
  if w > 0 then return {1, w} end
else
  local w = need(KEYS[2], climit, cms)
  if w > 0 then return {1, w} end
end
local w = need(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]))
if w > 0 then return {2, w} end
local score = now + tonumber(ARGV[6])
redis.call('ZADD', KEYS[1], score, ARGV[5])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) + tonumber(ARGV[6]))
if ARGV[7] == 'b' then
  redis.call('SET', KEYS[4], tat + cms, 'PX', math.floor(tat + cms - now + 1000))
else
  redis.call('ZADD', KEYS[2], score, ARGV[5])
  redis.call('PEXPIRE', KEYS[2], cms + tonumber(ARGV[6]))
end
return {0, 0}
"""
)

# KEYS: global window, chat window. ARGV: member. The slot now counts from this moment.
_DONE = (
    _NOW
    + """
redis.call('ZADD', KEYS[1], 'XX', now, ARGV[1])
redis.call('ZADD', KEYS[2], 'XX', now, ARGV[1])
return 0
"""
)

# KEYS: chat block. ARGV: ms. Only ever lengthens a block.
_BLOCK = """
local ms = tonumber(ARGV[1])
if redis.call('PTTL', KEYS[1]) < ms then redis.call('SET', KEYS[1], '1', 'PX', ms) end
return 0
"""

# KEYS: as for _TAKE. ARGV: global limit, ms, chat limit, ms, 'b' or 'w'.
_FREE = (
    _NOW
    + _NEED
    + _BUCKET
    + """
if redis.call('PTTL', KEYS[3]) > 0 then return 0 end
local climit, cms = tonumber(ARGV[3]), tonumber(ARGV[4])
local c = 0
if ARGV[5] == 'b' then
  local used = bucket_tat(KEYS[4]) - now
  c = math.floor(((climit - 1) * cms - used) / cms) + 1
  if c < 0 then c = 0 end
  if c > climit then c = climit end
else
  local _
  _, c = need(KEYS[2], climit, cms)
end
local _, g = need(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]))
return math.min(c, g)
"""
)


MAX_BLOCK_SECONDS = 3600.0


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


class RedisStore:
    """Every instance on one Redis shares these windows. Chats appear in keys only as a keyed
    hash (a group's id would tell whose log server it is)."""

    def __init__(self, redis: Redis, prefix: str, secret: bytes = b"") -> None:
        self.prefix = prefix + "sb:"
        self._key = hashlib.blake2b(secret, digest_size=32).digest()
        self._take = redis.register_script(_TAKE)
        self._done = redis.register_script(_DONE)
        self._block = redis.register_script(_BLOCK)
        self._free = redis.register_script(_FREE)

    def _keys(self, chat: str) -> list[str]:
        name = hashlib.blake2b(chat.encode(), key=self._key, digest_size=12).hexdigest()
        p = self.prefix
        return [p + "g", p + "c:" + name, p + "b:" + name, p + "t:" + name]

    async def take(
        self, chat: str, chat_window: Window, global_window: Window, member: str, hold: float
    ) -> Verdict:
        code, ms = await self._take(
            keys=self._keys(chat),
            args=[
                global_window.limit,
                _ms(global_window.seconds),
                chat_window.limit,
                _ms(chat_window.seconds),
                member,
                _ms(hold),
                "b" if chat_window.bucket else "w",
            ],
        )
        if int(code) == 0:
            return Verdict(0.0)
        return Verdict(int(ms) / 1000, global_full=int(code) == 2)

    async def done(self, chat: str, member: str) -> None:
        await self._done(keys=self._keys(chat)[:2], args=[member])

    async def block(self, chat: str, seconds: float) -> None:
        await self._block(keys=[self._keys(chat)[2]], args=[_ms(seconds)])

    async def free(self, chat: str, chat_window: Window, global_window: Window) -> int:
        result = await self._free(
            keys=self._keys(chat),
            args=[
                global_window.limit,
                _ms(global_window.seconds),
                chat_window.limit,
                _ms(chat_window.seconds),
                "b" if chat_window.bucket else "w",
            ],
        )
        return int(result)


@dataclass(frozen=True, slots=True)
class Ticket:
    chat: str
    member: str


@dataclass(order=True)
class _Waiter:
    priority: int
    seq: int
    chat: str = field(compare=False)
    future: asyncio.Future[Ticket] = field(compare=False)
    task: asyncio.Task[Any] | None = field(compare=False, default=None)


class Shed(Exception):
    """The call was still waiting for its slot when its owner stopped (``SendBudget.shed``):
    nothing was sent, so what it carried can go again later."""


@dataclass
class BudgetStats:
    granted: int = 0
    waited: int = 0
    retried: int = 0
    gave_up: int = 0


def chat_key(chat_id: int | str) -> str:
    return str(chat_id)


def is_private(chat_id: int | str) -> bool:
    # Users' ids are positive; groups, supergroups and channels are negative or "@username".
    return isinstance(chat_id, int) and chat_id > 0


class SendBudget:
    """The scheduler in front of a store: callers wait here, by priority, for their slot."""

    def __init__(
        self,
        settings: SendBudgetSettings,
        store: Store,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.store = store
        self.clock = clock
        self.stats = BudgetStats()
        self.fallback = MemoryStore()
        self._degraded = False
        self._waiters: list[_Waiter] = []
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._pump: asyncio.Task[None] | None = None
        self._active = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._shed: weakref.WeakSet[asyncio.Task[Any]] = weakref.WeakSet()

    @classmethod
    def build(
        cls, settings: SendBudgetSettings, redis: Redis | None, prefix: str, secret: bytes
    ) -> SendBudget:
        """``secret``: shared by every instance of the bot (its token), keys the chat hashes."""
        store: Store = RedisStore(redis, prefix, secret) if redis is not None else MemoryStore()
        return cls(settings, store)

    # -- limits ---------------------------------------------------------------------------
    def chat_window(self, chat_id: int | str) -> Window:
        s = self.settings
        if is_private(chat_id):
            # Telegram's ~1/s with short bursts, as a token bucket a margin slower
            return Window(s.private_burst, 1.0 + s.margin, bucket=True)
        return Window(s.group_per_minute, 60.0 + s.margin)

    def global_window(self, priority: Priority) -> Window:
        s = self.settings
        limit = {
            Priority.HIGH: s.global_per_second,
            Priority.DRAFT: max(1, int(s.global_per_second * s.draft_share)),
            Priority.BULK: s.bulk_per_second,
        }[priority]
        return Window(limit, 1.0 + s.margin)

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    @contextlib.contextmanager
    def call(self) -> Iterator[None]:
        """One Bot API call in progress (waiting, sending or waiting out a 429)."""
        self._active += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._active -= 1
            if self._active == 0:
                self._idle.set()

    async def drain(self, timeout: float) -> bool:
        """At shutdown: let the calls in progress (replies queued here) finish, for at most
        ``timeout`` seconds. True when none is left."""
        await wait_set(self._idle, timeout)
        if self._active:
            log.warning("%s Bot API calls still queued at shutdown", self._active)
        return not self._active

    async def free(self, chat_id: int | str, priority: Priority = Priority.BULK) -> int:
        """Messages that may go to ``chat_id`` at ``priority`` right now (0 while blocked)."""
        args = (chat_key(chat_id), self.chat_window(chat_id), self.global_window(priority))
        try:
            result = await self.store.free(*args)
        except STORE_ERRORS:
            self._note_down()
            return await self.fallback.free(*args)
        self._note_up()
        return result

    def _note_down(self) -> None:
        if not self._degraded:
            self._degraded = True
            log.warning("send budget store unreachable: limits kept per process", exc_info=True)

    def _note_up(self) -> None:
        if self._degraded:
            self._degraded = False
            log.warning("send budget store reachable again: limits shared")

    # -- slots ----------------------------------------------------------------------------
    async def acquire(self, chat_id: int | str, priority: Priority | None = None) -> Ticket:
        """Wait for a slot for one message to ``chat_id``; give it back with ``release``."""
        prio = current_priority() if priority is None else priority
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        if task is not None and task in self._shed:
            raise Shed
        waiter = _Waiter(int(prio), next(self._seq), chat_key(chat_id), loop.create_future(), task)
        bisect.insort(self._waiters, waiter)
        self._wake.set()
        if self._pump is None or self._pump.done():
            self._pump = asyncio.create_task(self._run(), name="send-budget")
        try:
            return await waiter.future
        except asyncio.CancelledError:
            if waiter in self._waiters:
                self._waiters.remove(waiter)
            elif waiter.future.done() and not waiter.future.cancelled():
                # granted just as the caller gave up: the slot still counts, from now
                await self.release(waiter.future.result())
            raise

    def shed(self, tasks: Iterable[asyncio.Task[Any]]) -> int:
        """A worker stops: the calls these tasks still wait to make (and any they would ask
        for later, after a 429) fail with `Shed` instead of holding up the shutdown for the
        next free slot. A call already sent is not touched. Returns how many were waiting."""
        owners = set(tasks)
        self._shed.update(owners)
        shed = 0
        for waiter in list(self._waiters):
            if waiter.task in owners and not waiter.future.done():
                self._waiters.remove(waiter)
                waiter.future.set_exception(Shed())
                shed += 1
        return shed

    async def release(self, ticket: Ticket) -> None:
        """The call answered (or failed): its slot counts from now."""
        try:
            await self.store.done(ticket.chat, ticket.member)
        except STORE_ERRORS:
            self._note_down()
        finally:
            await self.fallback.done(ticket.chat, ticket.member)
            self._wake.set()

    async def block(self, chat_id: int | str, seconds: float) -> None:
        """Telegram said ``retry_after``: nothing more goes to this chat until then (at most
        an hour: a longer ban simply answers 429 again, and no key outlives what
        docs/privacy.md promises)."""
        seconds = min(seconds, MAX_BLOCK_SECONDS)
        await self.fallback.block(chat_key(chat_id), seconds)
        try:
            await self.store.block(chat_key(chat_id), seconds)
        except STORE_ERRORS:
            self._note_down()
        self._wake.set()

    async def _run(self) -> None:
        while self._waiters:
            self._wake.clear()
            try:
                sleep = await self._grant()
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis down: wait and look again; callers stay queued
                log.warning("send budget unavailable; retrying", exc_info=True)
                sleep = 1.0
            if not self._waiters:
                return
            await wait_set(self._wake, max(0.001, sleep))

    async def _grant(self) -> float:
        """One pass over the waiters, best first; returns how long to sleep."""
        sleep = POLL_SECONDS
        chat_full: set[str] = set()
        global_full_from: int | None = None
        for waiter in list(self._waiters):
            if waiter.future.done():
                self._waiters.remove(waiter)
                continue
            if waiter.chat in chat_full:
                continue  # keep the order within one chat
            if global_full_from is not None and waiter.priority >= global_full_from:
                continue  # lower priorities have a smaller share: full for them too
            member = uuid.uuid4().hex
            args = (
                waiter.chat,
                self._chat_window_of(waiter.chat),
                self.global_window(Priority(waiter.priority)),
                member,
                self.settings.in_flight_seconds,
            )
            try:
                verdict = await self.store.take(*args)
            except STORE_ERRORS:
                self._note_down()
                verdict = await self.fallback.take(*args)
            else:
                self._note_up()
            if verdict.wait == 0:
                self._waiters.remove(waiter)
                ticket = Ticket(waiter.chat, member)
                if waiter.future.done():  # cancelled meanwhile
                    await self.release(ticket)
                else:
                    waiter.future.set_result(ticket)
                    self.stats.granted += 1
                continue
            self.stats.waited += 1
            sleep = min(sleep, verdict.wait)
            if verdict.global_full:
                global_full_from = waiter.priority
                if waiter.priority == Priority.HIGH:
                    break
            else:
                chat_full.add(waiter.chat)
        return sleep

    def _chat_window_of(self, chat: str) -> Window:
        try:
            return self.chat_window(int(chat))
        except ValueError:
            return self.chat_window(chat)
