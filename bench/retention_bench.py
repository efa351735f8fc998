"""Retention benchmark: purge 1,000,000 expired rows among 1,000,000 live ones on PostgreSQL.

    python -m bench.retention_bench [--expired 1000000] [--live 1000000] [--rate 200]

Builds a throw-away database (dropped afterwards), fills `ai_turns` — the AI context, the largest
personal temporary table — with expired and live rows interleaved on the same pages (harder than
the real, time-ordered layout), then runs the real application in this process: a steady stream of
cheap updates (/help from 1,000 users: de-duplication in Redis, session, user load, i18n,
throttling, PostgreSQL, reply) goes through `Dispatcher.feed_raw_update` with a Bot whose HTTP
session answers at once. It measures the update latency while idle, then while the real purge job
(`services.retention.jobs.run_purge`, the scheduler's job) runs in the same event loop, as it
does in production. Prints the purge time and p50/p99 latency idle vs during the purge.
Needs PostgreSQL (BENCH_DATABASE_URL or TEST_DATABASE_URL, default the local server); uses Redis
when BENCH_REDIS_URL/TEST_REDIS_URL is set.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
import uuid
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Any

from aiogram import Bot
from aiogram.client.session.base import BaseSession
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import Chat, Message
from pydantic import SecretStr
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.engine import make_url

from bench.webhook_bench import message_update, percentile
from bot.app import build
from bot.db.base import utcnow
from bot.settings import Settings
from services.retention.config import RetentionSettings
from services.retention.jobs import run_purge
from tests.db import _execute, _migrate, with_database

PG = os.environ.get("BENCH_DATABASE_URL") or os.environ.get(
    "TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
REDIS = os.environ.get("BENCH_REDIS_URL") or os.environ.get("TEST_REDIS_URL")
USERS = 1000


class InstantSession(BaseSession):
    """Telegram that answers every call at once (the bench measures our side only)."""

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        chat_id = getattr(method, "chat_id", 0)
        if method.__returning__ is Message:
            return Message(  # type: ignore[return-value]
                message_id=1,
                date=datetime.now(UTC),
                chat=Chat(id=int(chat_id), type="private"),
                text=getattr(method, "text", None),
            )
        return True  # type: ignore[return-value]

    def stream_content(self, *args: Any, **kwargs: Any) -> AsyncGenerator[bytes, None]:
        raise NotImplementedError("the benchmark downloads nothing")

    async def close(self) -> None:
        return None


async def _database_exists(name: str) -> bool:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(make_url(PG).set(drivername="postgresql").render_as_string(False))
    try:
        return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
    finally:
        await conn.close()


async def seed(url: str, expired: int, live: int, layout: str) -> None:
    from bot.db.engine import create_engine

    engine = create_engine(url)
    total = expired + live
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO users (id, role, status, credits, created_at, last_seen_at) "
                "SELECT g, 'user', 'active', 0, now(), now() - interval '1 day' "
                "FROM generate_series(1, :n) g"
            ),
            {"n": USERS},
        )
        if layout == "interleaved":
            # Every other row is expired, in no particular expiry order: both kinds share every
            # heap page (the worst case for a purge).
            expiry = (
                "CASE WHEN g % 2 = 0 AND g / 2 < :expired"
                " THEN now() - interval '1 hour'"
                " + ((g::bigint * 7919) % 3600) * interval '1 second'"
                " ELSE now() + interval '23 hours' END"
            )
        else:
            # As rows are written over time: the oldest (first in the heap) expire first.
            expiry = (
                "now() - interval '1 hour' + (g - :expired) * interval '1 millisecond'"
                " + CASE WHEN g < :expired THEN interval '0' ELSE interval '2 hours' END"
            )
        await conn.execute(
            text(
                "INSERT INTO ai_turns (user_id, scope, exchange, role, content, tokens, excluded,"
                " created_at, expires_at) "
                "SELECT 1 + g % :users, 'private', md5(g::text), 'user',"
                " 'v1.k1.' || repeat(md5(g::text), 4), 40, false,"
                f" now() - interval '25 hours', {expiry} "
                "FROM generate_series(0, :total - 1) g"
            ),
            {"users": USERS, "total": total, "expired": expired},
        )
    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE ai_turns"))
        await conn.execute(text("VACUUM ANALYZE users"))
        await conn.execute(text("CHECKPOINT"))
    await engine.dispose()


async def stream(
    feed: Any, rate: float, stop: asyncio.Event, latencies: list[float], ids: list[int]
) -> None:
    tasks: set[asyncio.Task[None]] = set()

    async def one(update: dict[str, Any]) -> None:
        started = time.perf_counter()
        await feed(update)
        latencies.append(time.perf_counter() - started)

    interval = 1 / rate
    next_at = time.perf_counter()
    while not stop.is_set():
        ids[0] += 1
        update = message_update(ids[0], random.randint(1, USERS), "/help")
        task = asyncio.create_task(one(update))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        next_at += interval
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
    if tasks:
        await asyncio.gather(*tasks)


async def main(args: argparse.Namespace) -> None:
    name = f"libral_bench_{uuid.uuid4().hex[:10]}"
    url = with_database(PG, name)
    prefix = f"libral-bench-{uuid.uuid4().hex[:8]}:"
    kept = f"libral_bench_seed_{args.layout}_{args.expired}_{args.live}"
    reuse = args.reuse_seed and await _database_exists(kept)
    t0 = time.perf_counter()
    template = f' TEMPLATE "{kept}"' if reuse else ""
    await _execute(PG, f'CREATE DATABASE "{name}"{template}')
    try:
        if reuse:
            print(f"cloned the kept seed {kept} in {time.perf_counter() - t0:.1f} s")
        else:
            await _migrate(url)
            await seed(url, args.expired, args.live, args.layout)
            print(
                f"seeded {args.expired:,} expired + {args.live:,} live rows ({args.layout}) in "
                f"{time.perf_counter() - t0:.1f} s"
            )
            if args.reuse_seed:
                await _execute(PG, f'CREATE DATABASE "{kept}" TEMPLATE "{name}"')
        # Every run starts right after a checkpoint: each page's first change is a full-page
        # image in the WAL, as it is at some point in production.
        await _execute(url, "CHECKPOINT")
        settings = Settings(
            _env_file=None,
            bot_token=SecretStr("123456:bench"),
            database_url=url,
            redis_url=REDIS,
            redis_prefix=prefix,
            http_enabled=False,
            migrate_on_start=False,
            throttle_rate=1000.0,
            throttle_burst=1000,
            retention=RetentionSettings(
                batch_size=args.batch, pause_between_batches_ms=args.pause_ms
            ),
        )
        app = build(settings)
        await app.bot.session.close()
        app.bot.session = InstantSession()
        dp, bot = app.dispatcher, app.bot

        async def feed(update: dict[str, Any]) -> None:
            await dp.feed_raw_update(bot, update)

        ids = [0]
        warm: list[float] = []
        stop = asyncio.Event()
        warm_task = asyncio.create_task(stream(feed, args.rate, stop, warm, ids))
        await asyncio.sleep(2)
        stop.set()
        await warm_task

        idle: list[float] = []
        stop = asyncio.Event()
        idle_task = asyncio.create_task(stream(feed, args.rate, stop, idle, ids))
        await asyncio.sleep(args.idle_seconds)
        stop.set()
        await idle_task

        during: list[float] = []
        stop = asyncio.Event()
        busy_task = asyncio.create_task(stream(feed, args.rate, stop, during, ids))
        await asyncio.sleep(0.2)
        t0 = time.perf_counter()
        report = await run_purge(
            sessionmaker=app.sessionmaker,
            retention=settings.retention,
            clock=utcnow,
        )
        purge_seconds = time.perf_counter() - t0
        stop.set()
        await busy_task

        async with app.engine.connect() as conn:
            left = await conn.scalar(text("SELECT count(*) FROM ai_turns"))
        turns = next(t for t in report.tables if t.table == "ai_turns")
        p50_idle, p99_idle = percentile(idle, 50) * 1000, percentile(idle, 99) * 1000
        p50_busy, p99_busy = percentile(during, 50) * 1000, percentile(during, 99) * 1000
        how = "one heap pass" if turns.heap_pass else "expiry ranges"
        print(
            f"purge ({how}): {turns.deleted:,} rows in {turns.batches} batches of ~{args.batch:,}: "
            f"{purge_seconds:.2f} s (all tables {report.deleted:,}); {left:,} live rows left"
        )
        print(
            f"updates at {args.rate:.0f}/s, idle: n={len(idle)} p50 {p50_idle:.1f} ms "
            f"p99 {p99_idle:.1f} ms"
        )
        print(
            f"updates during purge: n={len(during)} p50 {p50_busy:.1f} ms "
            f"p99 {p99_busy:.1f} ms  (p99 ratio {p99_busy / p99_idle:.2f}x)"
        )
        await app.dispatcher.storage.close()
        await app.state.close()
        await app.engine.dispose()
    finally:
        await _execute(PG, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if REDIS:
            redis = Redis.from_url(REDIS)
            keys = [k async for k in redis.scan_iter(match=prefix + "*", count=1000)]
            if keys:
                await redis.delete(*keys)
            await redis.aclose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--expired", type=int, default=1_000_000)
    parser.add_argument("--live", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=RetentionSettings().batch_size)
    parser.add_argument("--rate", type=float, default=200.0, help="updates per second")
    parser.add_argument("--idle-seconds", type=float, default=5.0)
    parser.add_argument("--pause-ms", type=float, default=0.0, help="pause between batches")
    parser.add_argument("--layout", choices=["interleaved", "ordered"], default="interleaved")
    parser.add_argument(
        "--reuse-seed",
        action="store_true",
        help="keep the seeded database as a template and clone it on later runs "
        "(drop libral_bench_seed_* by hand when done)",
    )
    asyncio.run(main(parser.parse_args()))
