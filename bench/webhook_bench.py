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
import itertools
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
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
# Bounds on every wait, in seconds: nothing in this script can hang silently.
READY_TIMEOUT = 60.0
HTTP_TIMEOUT = 10.0
REPLY_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0


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

    def __init__(
        self,
        emulator: BotAPIEmulator,
        database_url: str,
        log_level: str,
        *,
        redis_url: str | None = REDIS,
        module: str = "bot",
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.emulator = emulator
        self.module = module
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
            "LOG_LEVEL": log_level,
            "CRYPTO__MASTER_KEY": os.environ.get(
                "CRYPTO__MASTER_KEY", "bGlicmFsLWJlbmNoLW1hc3Rlci1rZXktMzItYnl0ZXM="
            ),
        }
        env.update(extra_env or {})
        if redis_url:
            env["REDIS_URL"] = redis_url
        else:
            env.pop("REDIS_URL", None)
        self.log = tempfile.NamedTemporaryFile("w+", suffix=".log", prefix="libral-bench-")  # noqa: SIM115 - lives as long as the process
        self.process = subprocess.Popen(
            [sys.executable, "-m", module], env=env, cwd=ROOT, stdout=self.log, stderr=self.log
        )

    def cpu_seconds(self) -> float:
        """CPU time the bot process has used so far (user + system), from /proc."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        """Resident memory of the bot process now, in MiB, from /proc."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def log_tail(self, chars: int = 3000) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()[-chars:]

    async def wait_ready(self) -> None:
        """Until the bot has set its webhook, started its services and answered /healthz."""
        try:
            await self.emulator.wait_for_call("setWebhook", timeout=READY_TIMEOUT)
        except TimeoutError:
            raise SystemExit(
                f"the bot did not start (exit code {self.process.poll()}):\n{self.log_tail()}"
            ) from None
        deadline = time.monotonic() + READY_TIMEOUT
        health = f"http://127.0.0.1:{self.port}/healthz"
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
            while time.monotonic() < deadline and self.process.poll() is None:
                try:
                    async with http.get(health) as resp:
                        if resp.status == 200:
                            return
                except (aiohttp.ClientError, TimeoutError):
                    pass
                await asyncio.sleep(0.2)
        raise SystemExit(
            f"the bot is not healthy (exit code {self.process.poll()}):\n{self.log_tail()}"
        )

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)
        self.log.close()


class Lost(Exception):
    """Replies that never reached the emulator: the figures would be meaningless."""


async def full_stack(
    emulator: BotAPIEmulator,
    stack: Stack,
    update_ids: Iterator[int],
    n: int,
    rate: float,
    users: int,
) -> tuple[float, list[float], int, float, float]:
    """POST `n` /help updates at `rate` per second over `users` users; one in flight per user.

    Every wait is bounded: a POST by HTTP_TIMEOUT, a reply by REPLY_TIMEOUT, the whole run by a
    deadline. Update ids come from `update_ids`, shared by all runs: the bot de-duplicates
    updates by id, so a run that reused the warm-up's ids would get no reply for them.
    """
    # chat id -> the future of the one update in flight for that user
    waiting: dict[int, asyncio.Future[float]] = {}
    locks = {5000 + i: asyncio.Lock() for i in range(users)}
    latencies: list[float] = []
    lost: list[int] = []
    original = emulator.methods.get("sendMessage")
    assert original is not None

    async def timed_send(call: Any) -> Any:
        result = await original(call)
        future = waiting.pop(int(call.params["chat_id"]), None)
        if future is not None and not future.done():
            future.set_result(time.perf_counter())
        return result

    for user_id in locks:
        if user_id not in emulator.state.users:
            # Known to the emulator and having started the bot, as a real user would be.
            emulator.create_user("Bench", language_code="ja", user_id=user_id, started_bot=True)
    headers = {"X-Telegram-Bot-Api-Secret-Token": stack.secret}
    failures = 0
    loop = asyncio.get_running_loop()
    bot_cpu, own_cpu = stack.cpu_seconds(), time.process_time()

    async def post(http: aiohttp.ClientSession, update_id: int, user_id: int) -> None:
        nonlocal failures
        async with locks[user_id]:
            reply = loop.create_future()
            waiting[user_id] = reply
            t0 = time.perf_counter()
            try:
                async with http.post(
                    stack.url, json=message_update(update_id, user_id, "/help"), headers=headers
                ) as resp:
                    if resp.status != 200:
                        failures += 1
                latencies.append(await asyncio.wait_for(reply, REPLY_TIMEOUT) - t0)
            except (TimeoutError, aiohttp.ClientError):
                lost.append(update_id)
            finally:
                if waiting.get(user_id) is reply:
                    del waiting[user_id]

    emulator.override_method("sendMessage", timed_send)
    try:
        timeout = aiohttp.ClientTimeout(total=HTTP_TIMEOUT)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            tasks: list[asyncio.Task[None]] = []
            started = time.perf_counter()
            for i in range(n):
                delay = started + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(post(http, next(update_ids), 5000 + i % users)))
            # Queued behind each other per user: at most n/users replies, each bounded.
            deadline = max(60.0, n / rate * 3) + (HTTP_TIMEOUT + REPLY_TIMEOUT) * 2
            _, pending = await asyncio.wait(tasks, timeout=deadline)
            for task in pending:
                task.cancel()
            elapsed = time.perf_counter() - started
        bot_cpu, own_cpu = stack.cpu_seconds() - bot_cpu, time.process_time() - own_cpu
    finally:
        emulator.override_method("sendMessage", original)
    if lost or pending or stack.process.poll() is not None:
        recent = [(c.method, c.error_code, c.description) for c in emulator.errors()[-3:]]
        raise Lost(
            f"{len(latencies)} of {n} replies arrived; lost: {len(lost)} "
            f"(first update ids {lost[:5]}); unfinished at the deadline: {len(pending)}; "
            f"non-200: {failures}; bot exit code: {stack.process.poll()}; "
            f"recent emulator errors: {recent}; bot log (tail):\n{stack.log_tail()}"
        )
    return n / elapsed, latencies, failures, bot_cpu / n, own_cpu / n


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=3000)
    parser.add_argument("--rate", type=float, default=500.0, help="offered updates per second")
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--log-level", default="WARNING", help="the bot's LOG_LEVEL")
    args = parser.parse_args()

    bare_rate, bare_lat = await bare_dispatch(args.updates)

    name = f"libral_bench_{uuid.uuid4().hex[:8]}"
    await _execute(PG, f'CREATE DATABASE "{name}"')
    database_url = with_database(PG, name)
    # Update ids are never reused across runs: the bot would drop repeats as duplicates.
    update_ids = itertools.count(10_000_000)
    try:
        await asyncio.wait_for(_migrate(database_url), READY_TIMEOUT)
        async with BotAPIEmulator() as emulator:
            stack = Stack(emulator, database_url, args.log_level)
            try:
                await stack.wait_ready()
                # Warm-up registers the users, so the measured run is the steady state.
                await full_stack(emulator, stack, update_ids, args.users, args.rate, args.users)
                rate, lat, failures, bot_cpu, own_cpu = await full_stack(
                    emulator, stack, update_ids, args.updates, args.rate, args.users
                )
                # Closed loop as fast as it goes (`users` clients, one update in flight each).
                max_rate, max_lat, _, max_bot_cpu, max_own_cpu = await full_stack(
                    emulator, stack, update_ids, args.updates, 100_000.0, args.users
                )
            except Lost as error:
                raise SystemExit(f"benchmark failed: {error}") from None
            finally:
                stack.stop()
    finally:
        await _execute(PG, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    ms = 1000.0
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} CPUs, load average {load}")
    print(f"updates: {args.updates}, offered rate: {args.rate:.0f}/s, users: {args.users}")
    print(f"redis: {'yes' if REDIS else 'no (memory)'}; database: PostgreSQL")
    print(
        f"bare dispatch (baseline): {bare_rate:,.0f} updates/s, "
        f"p50 {statistics.median(bare_lat) * ms:.3f} ms, p99 {percentile(bare_lat, 99) * ms:.3f} ms"
    )
    print(
        f"full stack at {args.rate:.0f}/s offered: {rate:,.0f} updates/s, "
        f"p50 {statistics.median(lat) * ms:.2f} ms, p99 {percentile(lat, 99) * ms:.2f} ms, "
        f"max {max(lat) * ms:.0f} ms, non-200: {failures}"
    )
    print(
        f"  CPU per update: bot {bot_cpu * ms:.2f} ms, "
        f"bench process (emulator + client) {own_cpu * ms:.2f} ms"
    )
    print(
        f"full stack, closed loop ({args.users} clients): {max_rate:,.0f} updates/s, "
        f"p50 {statistics.median(max_lat) * ms:.2f} ms, p99 {percentile(max_lat, 99) * ms:.2f} ms, "
        f"max {max(max_lat) * ms:.0f} ms"
    )
    print(
        f"  CPU per update: bot {max_bot_cpu * ms:.2f} ms, "
        f"bench process (emulator + client) {max_own_cpu * ms:.2f} ms"
    )
    print(f"ratio full stack / bare dispatch (throughput): {max_rate / bare_rate:.1%}")


if __name__ == "__main__":
    asyncio.run(main())
