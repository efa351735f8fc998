"""The cheap update path, side by side: Libral (PostgreSQL + Redis), Libral embedded (SQLite +
memory state) and a bare aiogram bot answering `/help` with one `sendMessage` (the ceiling).

    python -m bench.update_bench [--updates 500] [--users 500] [--rounds 3] [--p99-rate 150]

Each bot runs as its own process in webhook mode against the Bot API emulator in this process
(flood limits off). Per round and bot: a warm-up (one `/help` per user, which registers them),
then `--updates` `/help` from `--users` users as fast as replies come (one update in flight per
user). Printed: the median over rounds of updates/s, the bot's CPU per update (from /proc) and its
resident memory at idle (after start-up, before any update) and after the run; then p99 latency at
`--p99-rate` updates/s offered on PostgreSQL + Redis, over `--p99-users` chats (each chat gets
one update every few seconds, within its send budget). Ratios
are against the bare bot measured in the same run. Needs PostgreSQL (BENCH_DATABASE_URL or
TEST_DATABASE_URL) and Redis (BENCH_REDIS_URL or TEST_REDIS_URL, default
redis://127.0.0.1:6379/0).

Telegram's limits, fairly: the send budget paces each private chat to about one message a second
(bursts of 3), so the load is spread over many chats (by default each user sends one `/help`
after the warm-up) and no chat waits for its slot; otherwise the run measures the budget, not the
update path. The budget's global window (Telegram's ~30 messages a second for the whole bot) is
lifted for Libral (`SENDBUDGET__GLOBAL_PER_SECOND`), because the bare bot has no limiter at all;
Libral still takes and returns a slot for every reply (its Redis round trips are counted).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.webhook_bench import PG, Lost, Stack, full_stack, percentile
from tests.db import _execute, _migrate, with_database
from tests.emulator.server import BotAPIEmulator

REDIS_URL = (
    os.environ.get("BENCH_REDIS_URL")
    or os.environ.get("TEST_REDIS_URL")
    or "redis://127.0.0.1:6379/0"
)
READY_TIMEOUT = 120.0
WARM_UP_RATE = 100.0
# The bare bot has no limiter: Libral's global window is lifted so both are measured alike.
LIBRAL_ENV = {"SENDBUDGET__GLOBAL_PER_SECOND": "100000"}


@dataclass
class Figures:
    rate: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    rss_idle: list[float] = field(default_factory=list)
    rss_after: list[float] = field(default_factory=list)

    def median(self, name: str) -> float:
        values: list[float] = getattr(self, name)
        return statistics.median(values)


async def warm_up(
    emulator: BotAPIEmulator, stack: Stack, update_ids: Iterator[int], users: int
) -> None:
    """One `/help` per user (registers them); not measured. A reply that misses the bench's
    bounded wait (a stall of the shared machine) only means another pass: by then the users are
    registered, and the measured run starts from the steady state."""
    for attempt in range(3):
        try:
            await full_stack(emulator, stack, update_ids, users, WARM_UP_RATE, users)
            return
        except Lost as error:
            print(f"  warm-up pass {attempt + 1} incomplete: {str(error)[:120]}", flush=True)
    raise Lost("the warm-up never completed")


async def measure(
    emulator: BotAPIEmulator,
    stack: Stack,
    update_ids: Iterator[int],
    updates: int,
    users: int,
    figures: Figures,
) -> None:
    try:
        await stack.wait_ready()
        figures.rss_idle.append(stack.rss_mb())
        # The warm-up registers every user (not measured): offered gently, so that a burst of
        # first updates on a loaded machine stays within the bench's bounded waits.
        await warm_up(emulator, stack, update_ids, users)
        rate, _, _, cpu, _ = await full_stack(
            emulator, stack, update_ids, updates, 100_000.0, users
        )
        figures.rate.append(rate)
        figures.cpu_ms.append(cpu * 1000)
        figures.rss_after.append(stack.rss_mb())
        print(f"  {stack.module}: {rate:.0f}/s, {cpu * 1000:.2f} ms CPU/update", flush=True)
    except Lost as error:
        raise SystemExit(f"benchmark failed: {error}") from None
    finally:
        stack.stop()


async def fresh_database() -> tuple[str, str]:
    name = f"libral_bench_{uuid.uuid4().hex[:8]}"
    await _execute(PG, f'CREATE DATABASE "{name}"')
    url = with_database(PG, name)
    await asyncio.wait_for(_migrate(url), READY_TIMEOUT)
    return name, url


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=500)
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--p99-rate", type=float, default=150.0)
    parser.add_argument("--p99-updates", type=int, default=1500)
    parser.add_argument(
        "--p99-users", type=int, default=500, help="chats the latency run spreads over"
    )
    parser.add_argument("--log-level", default="WARNING", help="the bots' LOG_LEVEL")
    args = parser.parse_args()

    load_before = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    bots = ["bare aiogram", "Libral PostgreSQL + Redis", "Libral SQLite + memory"]
    figures = {name: Figures() for name in bots}
    update_ids = itertools.count(20_000_000)
    created: list[str] = []
    p99: list[float] = []
    latency_failed = ""
    p50: list[float] = []
    offered: list[float] = []
    try:
        async with BotAPIEmulator() as emulator:
            for _ in range(args.rounds):
                # Interleaved, so that a change in the machine's load hits every bot alike.
                run = (update_ids, args.updates, args.users)
                stack = Stack(emulator, "sqlite://", args.log_level, module="bench.bare_bot")
                await measure(emulator, stack, *run, figures[bots[0]])

                name, url = await fresh_database()
                created.append(name)
                stack = Stack(
                    emulator, url, args.log_level, redis_url=REDIS_URL, extra_env=LIBRAL_ENV
                )
                await measure(emulator, stack, *run, figures[bots[1]])

                with tempfile.TemporaryDirectory(prefix="libral-bench-sqlite-") as directory:
                    sqlite_url = f"sqlite+aiosqlite:///{Path(directory) / 'libral.db'}"
                    stack = Stack(
                        emulator, sqlite_url, args.log_level, redis_url=None, extra_env=LIBRAL_ENV
                    )
                    await measure(emulator, stack, *run, figures[bots[2]])

            # Latency below saturation, PostgreSQL + Redis.
            name, url = await fresh_database()
            created.append(name)
            stack = Stack(emulator, url, args.log_level, redis_url=REDIS_URL, extra_env=LIBRAL_ENV)
            users = args.p99_users
            try:
                await stack.wait_ready()
                await warm_up(emulator, stack, update_ids, users)
                rate, latencies, _, _, _ = await full_stack(
                    emulator, stack, update_ids, args.p99_updates, args.p99_rate, users
                )
                offered.append(rate)
                p50.append(statistics.median(latencies) * 1000)
                p99.append(percentile(latencies, 99) * 1000)
            except Lost as error:
                latency_failed = str(error)[:2000]
            finally:
                stack.stop()
    finally:
        for name in created:
            await _execute(PG, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} CPUs, load average {load} (at the start: {load_before})")
    print("the bare bot has no send limiter; Libral's global window is lifted, per-chat kept")
    print(
        f"{args.updates} /help from {args.users} users, one in flight per user, "
        f"medians of {args.rounds} rounds"
    )
    bare = figures[bots[0]]
    header = f"{'':28} {'updates/s':>10} {'× bare':>7} {'CPU ms/update':>14} {'× bare':>7}"
    print(header + f" {'RSS idle MiB':>13} {'RSS after MiB':>14}")
    for name in bots:
        f = figures[name]
        print(
            f"{name:28} {f.median('rate'):10.0f} {f.median('rate') / bare.median('rate'):7.2f} "
            f"{f.median('cpu_ms'):14.2f} {f.median('cpu_ms') / bare.median('cpu_ms'):7.2f} "
            f"{f.median('rss_idle'):13.0f} {f.median('rss_after'):14.0f}"
        )
        print(
            f"{'':28} rounds: {', '.join(f'{r:.0f}/s' for r in f.rate)}; "
            f"CPU {', '.join(f'{c:.2f}' for c in f.cpu_ms)} ms"
        )
    if latency_failed:
        print(f"latency run failed: {latency_failed}")
        return
    print(
        f"PostgreSQL + Redis at {args.p99_rate:.0f}/s offered ({args.p99_updates} updates over "
        f"{args.p99_users} chats): delivered {offered[0]:.0f}/s, p50 {p50[0]:.1f} ms, "
        f"p99 {p99[0]:.1f} ms"
    )


if __name__ == "__main__":
    asyncio.run(main())
