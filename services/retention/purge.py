"""The purge: delete every expired personal temporary row, in short batches.

Each batch deletes about ``batch_size`` rows in its own short transaction, so row locks are held
for milliseconds and the bot keeps serving. On PostgreSQL the purge walks the expiry index in
ranges (the usual case) or, when a large share of a table has expired, makes one pass over the
table in physical order (see below); elsewhere (SQLite) it deletes by primary key.

Redis: every key under the bot's prefix must carry a TTL of at most 24 hours; the sweep gives
any key without one (a bug elsewhere) that TTL rather than let it live forever.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from redis.asyncio import Redis
from sqlalchemy import (
    Delete,
    Integer,
    MetaData,
    TextClause,
    bindparam,
    delete,
    select,
    text,
    tuple_,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from bot.db.models import Base
from bot.db.retention import Expiry, expiry_of
from bot.state import MAX_TTL_SECONDS

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TableResult:
    table: str
    deleted: int
    batches: int
    seconds: float
    error: str | None = None
    heap_pass: bool = False


@dataclass(slots=True)
class PurgeReport:
    now: datetime
    tables: list[TableResult] = field(default_factory=list)
    redis_keys_fixed: int = 0
    redis_error: str | None = None

    @property
    def deleted(self) -> int:
        return sum(t.deleted for t in self.tables)

    @property
    def failed(self) -> list[str]:
        names = [t.table for t in self.tables if t.error is not None]
        if self.redis_error is not None:
            names.append("redis")
        return names

    @property
    def ok(self) -> bool:
        return not self.failed


def expiries(metadata: MetaData) -> Iterator[Expiry]:
    """Every table with a purge rule, children before parents."""
    for table in reversed(metadata.sorted_tables):
        found = expiry_of(table)
        if found is not None:
            yield found


# PostgreSQL: two ways through a table, chosen per purge like a planner would.
#
# * By expiry (the usual case: a few minutes' worth of rows expired): batches of about
#   `batch_size` rows taken in expiry order. The upper bound of each batch is read from the
#   expiry index alone (an index-only scan); the batch is then deleted by range, which PostgreSQL
#   does with a bitmap scan, page by page in physical order. The next batch starts above the
#   last bound, so it never wades through index entries of rows already deleted.
# * By heap pages (a large share of the table expired, e.g. after the purge was off for a day,
#   and the expired rows scattered over the table): one pass over the table in physical order,
#   `ctid` range by range (TID range scans), deleting what has expired in each range. Every page
#   is visited once, however the rows are laid out.
#
# Each batch is its own short transaction. It does not wait for its WAL flush
# (synchronous_commit off): a batch lost in a crash is simply deleted again by the next tick.

# A heap pass pays off once this share of the table has expired, unless the rows lie in expiry
# order on disk (PostgreSQL's own statistics tell).
HEAP_PASS_SHARE = 0.2
ORDERED_CORRELATION = 0.5


def _names(expiry: Expiry, dialect: Dialect) -> tuple[str, str]:
    quote = dialect.identifier_preparer
    return quote.format_table(expiry.table), quote.quote(expiry.column.name)


def _typed(clause: TextClause, expiry: Expiry, *times: str) -> TextClause:
    return clause.bindparams(*(bindparam(name, type_=expiry.column.type) for name in times))


async def _pg_short(session: AsyncSession) -> AsyncConnection:
    conn = await session.connection()
    await conn.execute(text("SET LOCAL synchronous_commit TO OFF"))
    return conn


async def _pg_by_expiry(
    sessionmaker: async_sessionmaker[AsyncSession],
    expiry: Expiry,
    cutoff: datetime,
    batch_size: int,
    pause_seconds: float,
) -> tuple[int, int]:
    async with sessionmaker() as session:
        dialect = (await session.connection()).dialect
    name, col = _names(expiry, dialect)
    bound = _typed(
        text(
            f"SELECT {col} FROM {name} WHERE {col} > :low AND {col} <= :cutoff"
            f" ORDER BY {col} OFFSET :skip LIMIT 1"
        ),
        expiry,
        "low",
        "cutoff",
    )
    remove = _typed(
        text(f"DELETE FROM {name} WHERE {col} > :low AND {col} <= :high"), expiry, "low", "high"
    )
    low, deleted, batches = _EARLIEST, 0, 0
    while True:
        async with sessionmaker() as session:
            conn = await _pg_short(session)
            high = (
                await conn.execute(bound, {"low": low, "cutoff": cutoff, "skip": batch_size - 1})
            ).scalar()
            last = high is None
            result = await conn.execute(remove, {"low": low, "high": cutoff if last else high})
            await session.commit()
        deleted += max(result.rowcount, 0)
        batches += 1
        if last:
            return deleted, batches
        assert isinstance(high, datetime)
        low = high
        await asyncio.sleep(pause_seconds)


async def _pg_heap_pass(
    sessionmaker: async_sessionmaker[AsyncSession],
    expiry: Expiry,
    cutoff: datetime,
    batch_size: int,
    pause_seconds: float,
    pages: int,
    rows_per_page: float,
) -> tuple[int, int]:
    async with sessionmaker() as session:
        dialect = (await session.connection()).dialect
    name, col = _names(expiry, dialect)
    remove = _typed(
        text(
            f"DELETE FROM {name} WHERE ctid >= CAST(:first AS tid)"
            f" AND ctid < CAST(:stop AS tid) AND {col} <= :cutoff"
        ),
        expiry,
        "cutoff",
    )
    step = max(1, int(batch_size / max(rows_per_page, 1.0)))
    deleted = batches = 0
    for first in range(0, pages, step):
        async with sessionmaker() as session:
            conn = await _pg_short(session)
            result = await conn.execute(
                # asyncpg takes a tid as (block, offset)
                remove,
                {"first": (first, 0), "stop": (first + step, 0), "cutoff": cutoff},
            )
            await session.commit()
        deleted += max(result.rowcount, 0)
        batches += 1
        await asyncio.sleep(pause_seconds)
    return deleted, batches


async def _pg_shape(
    sessionmaker: async_sessionmaker[AsyncSession], expiry: Expiry, cutoff: datetime
) -> tuple[int, float, bool]:
    """(heap pages, rows per page, whether a heap pass is worth it) for this purge."""
    async with sessionmaker() as session:
        conn = await session.connection()
        name, col = _names(expiry, conn.dialect)
        row = (
            await conn.execute(
                text(
                    "SELECT pg_relation_size(CAST(:rel AS regclass))"
                    " / current_setting('block_size')::int, reltuples, relpages"
                    " FROM pg_class WHERE oid = CAST(:rel AS regclass)"
                ),
                {"rel": name},
            )
        ).one()
        pages, tuples, stat_pages = int(row[0]), float(row[1]), int(row[2])
        rows_per_page = tuples / stat_pages if stat_pages > 0 and tuples > 0 else 50.0
        estimated = rows_per_page * pages
        probe = int(estimated * HEAP_PASS_SHARE)
        if pages == 0 or probe < 1000:
            return pages, rows_per_page, False
        # Rows laid out in expiry order (written over time, expiring in turn) are cheapest by
        # expiry ranges: they touch only the expired pages. Scattered ones, by one heap pass.
        correlation = await conn.scalar(
            text(
                "SELECT correlation FROM pg_stats WHERE schemaname = current_schema()"
                " AND tablename = :table AND attname = :column"
            ),
            {"table": expiry.table.name, "column": expiry.column.name},
        )
        if correlation is not None and abs(float(correlation)) >= ORDERED_CORRELATION:
            return pages, rows_per_page, False
        # Counted from the index alone, and never further than the threshold.
        expired = await conn.scalar(
            _typed(
                text(
                    f"SELECT count(*) FROM (SELECT 1 FROM {name}"
                    f" WHERE {col} <= :cutoff LIMIT :probe) AS s"
                ),
                expiry,
                "cutoff",
            ),
            {"cutoff": cutoff, "probe": probe},
        )
        await session.rollback()
    return pages, rows_per_page, int(expired or 0) >= probe


def _portable_batch(expiry: Expiry) -> Delete:
    table, column = expiry.table, expiry.column
    keys = list(table.primary_key.columns)
    if not keys:
        raise LookupError(f"{table.name}: a purged table needs a primary key")
    picked = (
        select(*keys)
        .where(column <= bindparam("cutoff", type_=column.type))
        .limit(bindparam("limit", type_=Integer()))
    )
    if len(keys) == 1:
        return delete(table).where(keys[0].in_(picked.scalar_subquery()))
    return delete(table).where(tuple_(*keys).in_(picked))


async def _portable(
    sessionmaker: async_sessionmaker[AsyncSession],
    expiry: Expiry,
    cutoff: datetime,
    batch_size: int,
    pause_seconds: float,
) -> tuple[int, int]:
    deleted = batches = 0
    statement = _portable_batch(expiry)
    while True:
        async with sessionmaker() as session:
            conn = await session.connection()
            result = await conn.execute(statement, {"cutoff": cutoff, "limit": batch_size})
            await session.commit()
        count = max(result.rowcount, 0)
        deleted += count
        batches += 1
        if count < batch_size:
            return deleted, batches
        await asyncio.sleep(pause_seconds)


_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)


async def purge_table(
    sessionmaker: async_sessionmaker[AsyncSession],
    expiry: Expiry,
    *,
    now: datetime,
    batch_size: int,
    pause_seconds: float = 0.0,
) -> TableResult:
    """Delete `expiry.table`'s expired rows, about `batch_size` at a time, each batch committed."""
    cutoff = now - expiry.after
    started = time.perf_counter()
    async with sessionmaker() as session:
        dialect = (await session.connection()).dialect.name
    if dialect != "postgresql":
        deleted, batches = await _portable(sessionmaker, expiry, cutoff, batch_size, pause_seconds)
        return TableResult(expiry.name, deleted, batches, time.perf_counter() - started)
    pages, rows_per_page, heap_pass = await _pg_shape(sessionmaker, expiry, cutoff)
    if heap_pass:
        # Rows that expire while the pass goes by are the next tick's: walking the expiry index
        # now would wade through the entries of every row just deleted (until vacuum).
        deleted, batches = await _pg_heap_pass(
            sessionmaker, expiry, cutoff, batch_size, pause_seconds, pages, rows_per_page
        )
    else:
        deleted, batches = await _pg_by_expiry(
            sessionmaker, expiry, cutoff, batch_size, pause_seconds
        )
    return TableResult(
        expiry.name, deleted, batches, time.perf_counter() - started, heap_pass=heap_pass
    )


async def purge_expired(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    now: datetime,
    batch_size: int,
    pause_seconds: float = 0.0,
    metadata: MetaData | None = None,
) -> PurgeReport:
    """Delete expired rows from every covered table; one table's failure does not stop the rest."""
    if metadata is None:
        metadata = Base.metadata
    report = PurgeReport(now=now)
    for expiry in expiries(metadata):
        try:
            result = await purge_table(
                sessionmaker,
                expiry,
                now=now,
                batch_size=batch_size,
                pause_seconds=pause_seconds,
            )
        except Exception as exc:
            log.exception("purge of %s failed; the next tick retries", expiry.name)
            result = TableResult(expiry.name, 0, 0, 0.0, error=type(exc).__name__)
        report.tables.append(result)
    return report


async def sweep_redis(redis: Redis, prefix: str, max_ttl: int = MAX_TTL_SECONDS) -> int:
    """Give every key under `prefix` without a TTL (or a longer one) a TTL of `max_ttl` seconds."""
    fixed = 0
    pattern = _glob_escape(prefix) + "*"
    batch: list[bytes | str] = []
    async for key in redis.scan_iter(match=pattern, count=1000):
        batch.append(key)
        if len(batch) >= 500:
            fixed += await _cap_ttls(redis, batch, max_ttl)
            batch = []
    if batch:
        fixed += await _cap_ttls(redis, batch, max_ttl)
    if fixed:
        # Key names can carry user ids: only the count is logged.
        log.warning("%d Redis keys had no TTL (or one over 24 h); capped at %d s", fixed, max_ttl)
    return fixed


async def _cap_ttls(redis: Redis, keys: list[bytes | str], max_ttl: int) -> int:
    async with redis.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.ttl(key)
        ttls = await pipe.execute()
    over = [k for k, t in zip(keys, ttls, strict=True) if t == -1 or t > max_ttl]
    if not over:
        return 0
    async with redis.pipeline(transaction=False) as pipe:
        for key in over:
            pipe.expire(key, max_ttl)
        await pipe.execute()
    return len(over)


def _glob_escape(value: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in value)
