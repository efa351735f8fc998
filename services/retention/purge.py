"""The purge: delete every expired personal temporary row, in short batches.

Each batch is one ``DELETE`` of at most ``batch_size`` rows picked through the expiry index, in
its own transaction, so row locks are held for milliseconds and the bot keeps serving. On
PostgreSQL the batch addresses rows by ``ctid`` (no second index probe per row).

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
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.state import MAX_TTL_SECONDS
from services.retention.policy import Expiry, expiry_of

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TableResult:
    table: str
    deleted: int
    batches: int
    seconds: float
    error: str | None = None


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


def _postgres_batch(expiry: Expiry, dialect: Dialect) -> TextClause:
    """Delete up to :limit rows with :low <= expiry <= :cutoff, in expiry order, by ``ctid``.

    Returns how many went and the largest expiry among them: the next batch starts there
    instead of wading again through the index entries of rows already deleted (they stay in
    the index until vacuum), which keeps a large purge linear.
    """
    quote = dialect.identifier_preparer
    name = quote.format_table(expiry.table)
    col = quote.quote(expiry.column.name)
    return text(
        f"WITH picked AS (SELECT ctid, {col} AS at FROM {name}"
        f" WHERE {col} >= :low AND {col} <= :cutoff ORDER BY {col} LIMIT :limit),"
        f" gone AS (DELETE FROM {name} WHERE ctid = ANY(ARRAY(SELECT ctid FROM picked))"
        f" RETURNING 1)"
        f" SELECT (SELECT count(*) FROM gone), (SELECT max(at) FROM picked)"
    ).bindparams(
        bindparam("low", type_=expiry.column.type),
        bindparam("cutoff", type_=expiry.column.type),
        bindparam("limit", type_=Integer()),
    )


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


async def _one_batch(
    sessionmaker: async_sessionmaker[AsyncSession],
    expiry: Expiry,
    cutoff: datetime,
    low: datetime | None,
    limit: int,
) -> tuple[int, datetime | None]:
    async with sessionmaker() as session:
        conn = await session.connection()
        if conn.dialect.name == "postgresql":
            # A purge batch lost in a crash is simply deleted again next tick: it need not wait
            # for its WAL flush, which keeps it off the path of the bot's own commits.
            await conn.execute(text("SET LOCAL synchronous_commit TO OFF"))
            row = (
                await conn.execute(
                    _postgres_batch(expiry, conn.dialect),
                    {"low": low or _EARLIEST, "cutoff": cutoff, "limit": limit},
                )
            ).one()
            count, reached = int(row[0]), row[1]
        else:
            result = await conn.execute(_portable_batch(expiry), {"cutoff": cutoff, "limit": limit})
            count, reached = max(result.rowcount, 0), None
        await session.commit()
    return count, reached


_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)


async def purge_table(
    sessionmaker: async_sessionmaker[AsyncSession],
    expiry: Expiry,
    *,
    now: datetime,
    batch_size: int,
    pause_seconds: float = 0.0,
) -> TableResult:
    """Delete `expiry.table`'s expired rows, `batch_size` at a time, each batch committed."""
    cutoff = now - expiry.after
    started = time.perf_counter()
    deleted = batches = 0
    low: datetime | None = None
    while True:
        count, reached = await _one_batch(sessionmaker, expiry, cutoff, low, batch_size)
        batches += 1
        deleted += count
        if count < batch_size:
            break
        low = reached
        # Let the bot's updates in between batches.
        await asyncio.sleep(pause_seconds)
    return TableResult(expiry.name, deleted, batches, time.perf_counter() - started)


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
        from bot.db.models import Base

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
