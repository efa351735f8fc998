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
from datetime import datetime

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


def _batch_statement(expiry: Expiry, dialect: Dialect) -> Delete | TextClause:
    table, column = expiry.table, expiry.column
    if dialect.name == "postgresql":
        quote = dialect.identifier_preparer
        name = quote.format_table(table)
        col = quote.quote(column.name)
        return text(
            f"DELETE FROM {name} WHERE ctid = ANY(ARRAY("
            f"SELECT ctid FROM {name} WHERE {col} <= :cutoff LIMIT :limit))"
        ).bindparams(bindparam("cutoff", type_=column.type), bindparam("limit", type_=Integer()))
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


async def purge_table(
    sessionmaker: async_sessionmaker[AsyncSession],
    expiry: Expiry,
    *,
    now: datetime,
    batch_size: int,
    pause_seconds: float = 0.0,
) -> TableResult:
    cutoff = now - expiry.after
    started = time.perf_counter()
    deleted = batches = 0
    while True:
        async with sessionmaker() as session:
            conn = await session.connection()
            stmt = _batch_statement(expiry, conn.dialect)
            # The cutoff is bound with the column's type (UTC-aware on every backend).
            result = await conn.execute(stmt, {"cutoff": cutoff, "limit": batch_size})
            await session.commit()
        batches += 1
        count = max(result.rowcount, 0)
        deleted += count
        if count < batch_size:
            break
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
