"""Background jobs: APScheduler 3 in the bot's event loop, started and stopped with the dispatcher.

Registering a job — one call in `bot/app.py:build()`, next to the rest of the feature's wiring::

    scheduler.add(
        "logserver.redrive",          # unique name: logs, health panel, lock key
        redrive,                      # the async function itself
        every=timedelta(seconds=30),
        sessionmaker=sessionmaker,    # its dependencies, given explicitly as keywords
        bot=bot,
    )

The job is then called as ``await redrive(sessionmaker=..., bot=...)`` once per tick; it opens
its own database sessions and commits them itself. The dependencies are checked by mypy against
the function's signature (a missing, misspelt or mistyped one is a type error). What the scheduler
guarantees:

* **Once per tick across instances.** Ticks are aligned to multiples of ``every`` since the Unix
  epoch, so every instance fires at the same instants. Before running, an instance takes the lock
  ``job:<name>:<tick>`` with `KeyValueState.set_once` — in Redis when it is configured, so exactly
  one instance runs each tick and the others skip it; in memory for the single embedded process.
* **Failures never stop it.** An exception is logged with the job's name and tick, counted in
  `status()`, and the job simply runs again at its next tick.
* **No pile-up.** A run still going when its next tick comes is not started twice in this
  process, and ticks missed while the loop was busy are coalesced into one.

`Scheduler.run(name)` runs one tick at once (tests, or a button that must not wait).
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import ParamSpec

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.db.base import utcnow
from bot.state import MAX_TTL_SECONDS, KeyValueState

log = logging.getLogger(__name__)

P = ParamSpec("P")

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
LOCK_PREFIX = "job:"


@dataclass(slots=True)
class JobStatus:
    """What the admin health panel shows for one job."""

    name: str
    every: timedelta
    runs: int = 0
    skipped: int = 0
    failures: int = 0
    last_started: datetime | None = None
    last_ok: datetime | None = None
    last_error: str | None = None
    next_run: datetime | None = None


@dataclass(frozen=True, slots=True)
class _Job:
    name: str
    call: Callable[[], Awaitable[object]]  # the job bound to its dependencies
    every: timedelta


class Scheduler:
    def __init__(self, kv: KeyValueState, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._kv = kv
        self._clock = clock
        self._jobs: dict[str, _Job] = {}
        self._status: dict[str, JobStatus] = {}
        self._aps: AsyncIOScheduler | None = None

    def add(
        self,
        name: str,
        job: Callable[P, Awaitable[object]],
        /,
        every: timedelta,
        *args: P.args,
        **dependencies: P.kwargs,
    ) -> None:
        """Register the async function `job`, called with `dependencies` at every tick.

        `name` and `job` are positional-only so that no dependency name can clash with them;
        the ParamSpec lets mypy check `dependencies` against `job`'s own parameters.
        """
        if name in self._jobs:
            raise ValueError(f"job {name!r} is registered twice")
        if not timedelta(seconds=1) <= every <= timedelta(seconds=MAX_TTL_SECONDS):
            raise ValueError(f"job {name!r}: `every` must be between 1 s and 24 h")
        # Checked at run time as well: a callable typed Any escapes mypy, and a job that is not
        # async must fail at start-up, not at its first tick.
        if not inspect.iscoroutinefunction(job):
            raise TypeError(f"job {name!r}: {job!r} is not an async function")
        self._jobs[name] = _Job(name, functools.partial(job, *args, **dependencies), every)
        self._status[name] = JobStatus(name, every)
        if self._aps is not None:
            self._schedule(self._aps, self._jobs[name])

    @property
    def names(self) -> list[str]:
        return list(self._jobs)

    def tick_of(self, name: str, now: datetime) -> int:
        every = self._jobs[name].every.total_seconds()
        # Rounded, not floored: an instance whose clock runs a little behind still agrees.
        return round((now - EPOCH).total_seconds() / every)

    async def run(self, name: str) -> bool:
        """Run `name`'s current tick unless another run (here or elsewhere) has it; True if ran."""
        job = self._jobs[name]
        status = self._status[name]
        now = self._clock()
        tick = self.tick_of(name, now)
        lock = f"{LOCK_PREFIX}{name}:{tick}"
        if not await self._kv.set_once(lock, job.every.total_seconds()):
            status.skipped += 1
            log.debug("job %s tick %d already taken", name, tick)
            return False
        status.runs += 1
        status.last_started = now
        # One line per run: across instances the lines show each tick ran once, and where.
        log.info("job %s tick %d started", name, tick)
        try:
            await job.call()
        except Exception as exc:
            status.failures += 1
            # First line only: database errors carry the statement and its values after it.
            first_line = str(exc).split("\n", 1)[0]
            status.last_error = f"{type(exc).__name__}: {first_line}"[:200]
            log.exception("job %s (tick %d) failed; it runs again next tick", name, tick)
        else:
            status.last_ok = self._clock()
            status.last_error = None
        return True

    def _schedule(self, aps: AsyncIOScheduler, job: _Job) -> None:
        aps.add_job(
            self.run,
            IntervalTrigger(seconds=job.every.total_seconds(), start_date=EPOCH, timezone=UTC),
            args=[job.name],
            id=job.name,
            name=job.name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, int(job.every.total_seconds() // 2)),
            replace_existing=True,
        )

    async def start(self) -> None:
        """Start firing (dispatcher start-up); idempotent."""
        if self._aps is not None:
            return
        aps = AsyncIOScheduler(timezone=UTC)
        for job in self._jobs.values():
            self._schedule(aps, job)
        aps.start()
        self._aps = aps
        log.info("scheduler started: %s", ", ".join(self._jobs) or "no jobs")

    async def shutdown(self) -> None:
        """Stop firing (dispatcher shutdown); a run in progress finishes on its own."""
        if self._aps is None:
            return
        self._aps.shutdown(wait=False)
        self._aps = None
        log.info("scheduler stopped")

    @property
    def running(self) -> bool:
        return self._aps is not None

    def status(self) -> list[JobStatus]:
        out = []
        for name, status in self._status.items():
            aps_job = self._aps.get_job(name) if self._aps is not None else None
            status.next_run = aps_job.next_run_time if aps_job is not None else None
            out.append(status)
        return out
