"""Foundation benchmark: webhook updates through the whole stack vs bare aiogram dispatch.

    python -m bench.webhook_bench [--updates 3000] [--rate 500] [--users 500]

Full stack: this process plays Telegram (the Bot API emulator) and POSTs webhook updates for a
cheap command (/help) to a separate `python -m bot` process (HTTP → de-duplication in Redis →
session, user load, i18n, throttling → PostgreSQL → reply sent back to the emulator). Latency is
from the POST to the reply reaching the emulator. Baseline, same run: `Dispatcher.feed_raw_update`
with a no-op handler, in process. Needs PostgreSQL (BENCH_DATABASE_URL or TEST_DATABASE_URL,
default the local server) and uses Redis when BENCH_REDIS_URL/TEST_REDIS_URL is set.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
from aiogram import Bot, Dispatcher
from aiogram.types import Message

from tests.db import _execute, _migrate, with_database
from tests.emulator.server import BotAPIEmulator
from tests.harness import free_port

ROOT = Path(__file__).resolve().parent.parent
PG = os.environ.get("BENCH_DATABASE_URL") or os.environ.get(
    "TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
REDIS = os.environ.get("BENCH_REDIS_URL") or os.environ.get("TEST_REDIS_URL")


def message_update(update_id: int, user_id: int, text: str) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private", "first_name": "Bench"},
            "from": {"id": user_id, "is_bot": False, "first_name": "Bench", "language_code": "ja"},
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text)}],
        },
    }


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


async def bare_dispatch(n: int) -> tuple[float, list[float]]:
    dp = Dispatcher()

    async def noop(message: Message) -> None:
        return None

    dp.message.register(noop)
    bot = Bot("123456:bench")
    latencies: list[float] = []
    started = time.perf_counter()
    for i in range(n):
        t0 = time.perf_counter()
        await dp.feed_raw_update(bot, message_update(i + 1, 1000 + i % 500, "/help"))
        latencies.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    await bot.session.close()
    return n / elapsed, latencies


class Stack:
    """The bot in its own process, the emulator here."""

    def __init__(self, emulator: BotAPIEmulator, database_url: str) -> None:
        self.emulator = emulator
        self.port = free_port()
        self.secret = secrets.token_urlsafe(24)
        self.url = f"http://127.0.0.1:{self.port}/webhook"
        env = {
            **os.environ,
            "BOT_TOKEN": emulator.token,
            "TELEGRAM_API_URL": emulator.base_url,
            "DATABASE_URL": database_url,
            "WEBHOOK_URL": self.url,
            "WEBHOOK_SECRET": self.secret,
            "HTTP_HOST": "127.0.0.1",
            "HTTP_PORT": str(self.port),
            "REDIS_PREFIX": f"libral-bench-{uuid.uuid4().hex[:8]}:",
            "THROTTLE_RATE": "1000",
            "THROTTLE_BURST": "1000",
            "LOG_LEVEL": "WARNING",
            "CRYPTO__MASTER_KEY": os.environ.get(
                "CRYPTO__MASTER_KEY", "bGlicmFsLWJlbmNoLW1hc3Rlci1rZXktMzItYnl0ZXM="
            ),
        }
        if REDIS:
            env["REDIS_URL"] = REDIS
        else:
            env.pop("REDIS_URL", None)
        self.log = tempfile.NamedTemporaryFile("w+", suffix=".log", prefix="libral-bench-")  # noqa: SIM115 - lives as long as the process
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot"], env=env, cwd=ROOT, stdout=self.log, stderr=self.log
        )

    async def wait_ready(self) -> None:
        try:
            await self.emulator.wait_for_call("setWebhook", timeout=60)
        except TimeoutError:
            self.log.seek(0)
            raise SystemExit("the bot did not start:\n" + self.log.read()[-3000:]) from None

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


async def full_stack(
    emulator: BotAPIEmulator, stack: Stack, n: int, rate: float, users: int
) -> tuple[float, list[float], int]:
    sent_at: dict[int, float] = {}
    # One update in flight per user, so a reply maps back to its update.
    idle: dict[int, asyncio.Event] = {}
    latencies: list[float] = []
    done = asyncio.Event()
    original = emulator.methods.get("sendMessage")
    assert original is not None

    async def timed_send(call: Any) -> Any:
        result = await original(call)
        chat_id = int(call.params["chat_id"])
        t0 = sent_at.pop(chat_id, None)
        if t0 is not None:
            latencies.append(time.perf_counter() - t0)
            idle[chat_id].set()
            if len(latencies) >= n:
                done.set()
        return result

    emulator.override_method("sendMessage", timed_send)
    for i in range(users):
        if 5000 + i not in emulator.state.users:
            # Known to the emulator and having started the bot, as a real user would be.
            emulator.create_user(
                "Bench", language_code="ja", user_id=5000 + i
            ).user.started_bot = True
    headers = {"X-Telegram-Bot-Api-Secret-Token": stack.secret}
    failures = 0

    async with aiohttp.ClientSession() as http:

        async def post(update_id: int, user_id: int) -> None:
            nonlocal failures
            gate = idle.setdefault(user_id, asyncio.Event())
            if user_id in sent_at:
                gate.clear()
            while user_id in sent_at:
                await gate.wait()
            gate.clear()
            sent_at[user_id] = time.perf_counter()
            async with http.post(
                stack.url, json=message_update(update_id, user_id, "/help"), headers=headers
            ) as resp:
                if resp.status != 200:
                    failures += 1

        tasks = []
        started = time.perf_counter()
        for i in range(n):
            target = started + i / rate
            delay = target - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(post(10_000_000 + i, 5000 + i % users)))
        await asyncio.gather(*tasks)
        try:
            await asyncio.wait_for(done.wait(), timeout=120)
        except TimeoutError:
            recent = [(c.method, c.description) for c in emulator.errors()[-3:]]
            raise SystemExit(
                f"only {len(latencies)} of {n} replies arrived; non-200: {failures}; "
                f"recent errors: {recent}"
            ) from None
        elapsed = time.perf_counter() - started
    emulator.override_method("sendMessage", original)
    return n / elapsed, latencies, failures


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=500.0, help="offered updates per second")
    parser.add_argument("--users", type=int, default=500)
    args = parser.parse_args()

    bare_rate, bare_lat = await bare_dispatch(args.updates)

    name = f"libral_bench_{uuid.uuid4().hex[:8]}"
    await _execute(PG, f'CREATE DATABASE "{name}"')
    database_url = with_database(PG, name)
    await _migrate(database_url)
    try:
        async with BotAPIEmulator() as emulator:
            stack = Stack(emulator, database_url)
            try:
                await stack.wait_ready()
                # Warm-up registers the users, so the measured run is the steady state.
                await full_stack(emulator, stack, args.users, args.rate, args.users)
                rate, lat, failures = await full_stack(
                    emulator, stack, args.updates, args.rate, args.users
                )
                # Closed loop as fast as it goes, for the throughput ratio.
                max_rate, _, _ = await full_stack(
                    emulator, stack, args.updates, 100_000.0, args.users
                )
            finally:
                stack.stop()
    finally:
        await _execute(PG, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    ms = 1000.0
    print(f"updates: {args.updates}, offered rate: {args.rate:.0f}/s, users: {args.users}")
    print(f"redis: {'yes' if REDIS else 'no (memory)'}; database: PostgreSQL")
    print(
        f"bare dispatch (baseline): {bare_rate:,.0f} updates/s, "
        f"p50 {statistics.median(bare_lat) * ms:.3f} ms, p99 {percentile(bare_lat, 99) * ms:.3f} ms"
    )
    print(
        f"full stack at {args.rate:.0f}/s offered: {rate:,.0f} updates/s, "
        f"p50 {statistics.median(lat) * ms:.2f} ms, p99 {percentile(lat, 99) * ms:.2f} ms, "
        f"non-200: {failures}"
    )
    print(f"full stack, closed loop: {max_rate:,.0f} updates/s")
    print(f"ratio full stack / bare dispatch (throughput): {max_rate / bare_rate:.1%}")


if __name__ == "__main__":
    asyncio.run(main())
