"""Throughput of several instances behind nginx against one, measured in the same run.

    python -m bench.scale_bench [--updates 400] [--instances 3]

For each shape (1 instance, then `--instances`), `scripts/run-scale` starts nginx and the
instances in webhook mode on a fresh PostgreSQL database and their own Redis prefix; this process
plays Telegram (the Bot API emulator, posting webhooks in parallel as Telegram does, up to 40 at
once, one at a time per chat). `--updates` /help messages, each from a user of its own, are
queued at once; the figure is updates handled per second, from the first update queued to the
last reply received. Every update must be answered (the run fails otherwise). Telegram's global
limit is lifted here (SENDBUDGET__GLOBAL_PER_SECOND): with it, replies are capped at about 30 a
second for all instances together, whatever their number, which is the point of the budget.
Needs nginx, PostgreSQL (BENCH_DATABASE_URL or TEST_DATABASE_URL) and Redis (BENCH_REDIS_URL or
TEST_REDIS_URL).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import secrets
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from tests.db import _execute, _migrate, with_database
from tests.emulator.registry import Call
from tests.emulator.server import BotAPIEmulator
from tests.harness import free_port

ROOT = Path(__file__).resolve().parent.parent
PG = os.environ.get("BENCH_DATABASE_URL") or os.environ.get(
    "TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
REDIS = os.environ.get("BENCH_REDIS_URL") or os.environ.get(
    "TEST_REDIS_URL", "redis://127.0.0.1:6379/0"
)
# Bounds on every wait, in seconds: nothing here can hang silently.
READY_TIMEOUT = 300.0
RUN_TIMEOUT = 300.0
STOP_TIMEOUT = 60.0


class Run:
    """scripts/run-scale as a child process."""

    def __init__(self, child: asyncio.subprocess.Process) -> None:
        self.child = child
        self.lines: list[str] = []
        self.ready = asyncio.Event()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.child.stdout is not None
        while raw := await self.child.stdout.readline():
            line = raw.decode(errors="replace").rstrip("\n")
            self.lines.append(line)
            if line == "READY":
                self.ready.set()

    async def stop(self) -> None:
        if self.child.returncode is None:
            self.child.send_signal(signal.SIGTERM)
        await asyncio.wait_for(self.child.wait(), STOP_TIMEOUT)
        await self.reader


async def measure(instances: int, updates: int) -> float:
    name = f"libral_bench_{uuid.uuid4().hex[:8]}"
    await _execute(PG, f'CREATE DATABASE "{name}"')
    url = with_database(PG, name)
    try:
        await asyncio.wait_for(_migrate(url), READY_TIMEOUT)
        async with BotAPIEmulator() as emu:
            emu.updates.webhook_parallel = True
            return await _measure(emu, url, instances, updates)
    finally:
        await _execute(PG, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _measure(emu: BotAPIEmulator, url: str, instances: int, updates: int) -> float:
    port = free_port()
    home = tempfile.mkdtemp(prefix="libral-scale-bench-")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": home,
        "BOT_TOKEN": emu.token,
        "TELEGRAM_API_URL": emu.base_url,
        "DATABASE_URL": url,
        "REDIS_URL": REDIS,
        "REDIS_PREFIX": f"libral-bench-{uuid.uuid4().hex[:8]}:",
        "WEBHOOK_URL": f"http://127.0.0.1:{port}/webhook",
        "WEBHOOK_SECRET": secrets.token_urlsafe(24),
        "THROTTLE_RATE": "1000",
        "THROTTLE_BURST": "100000",
        "SENDBUDGET__GLOBAL_PER_SECOND": "100000",
        "MIGRATE_ON_START": "false",
        "LOG_LEVEL": "WARNING",
        "CRYPTO__MASTER_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
        "CRYPTO__GNUPG_HOME": str(Path(home) / "gnupg"),
    }
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        str(ROOT / "scripts" / "run-scale"),
        "--instances",
        str(instances),
        "--port",
        str(port),
        "--workdir",
        str(Path(home) / "nginx"),
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    run = Run(child)
    try:
        await asyncio.wait_for(run.ready.wait(), READY_TIMEOUT)
        actors = [
            emu.create_user(f"U{i}", language_code="en", started_bot=True) for i in range(updates)
        ]
        replies = 0
        done = asyncio.Event()
        original = emu.methods.get("sendMessage")
        assert original is not None

        async def counted(call: Call) -> Any:
            nonlocal replies
            result = await original(call)
            replies += 1
            if replies >= updates:
                done.set()
            return result

        emu.override_method("sendMessage", counted)
        started = time.perf_counter()
        for i in range(updates):
            await actors[i].send_text("/help")
        await asyncio.wait_for(done.wait(), RUN_TIMEOUT)
        elapsed = time.perf_counter() - started
        lost = [a for a in emu.updates.webhook_attempts if a.status not in (200, None)]
        print(
            f"  {instances} instance(s): {updates} updates in {elapsed:.1f} s = "
            f"{updates / elapsed:.0f}/s ({len(lost)} non-2xx webhook answers, retried)",
            flush=True,
        )
        return updates / elapsed
    except TimeoutError:
        tail = "\n".join(line for line in run.lines[-30:])
        raise SystemExit(f"benchmark failed: timed out\n{tail}") from None
    finally:
        await run.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--updates", type=int, default=400)
    parser.add_argument("--instances", type=int, default=3)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    print(f"scale bench: {os.cpu_count()} CPUs, load {load:.1f}; /help through nginx", flush=True)
    one = await measure(1, args.updates)
    many = await measure(args.instances, args.updates)
    print(
        f"throughput: 1 instance {one:.0f}/s, {args.instances} instances {many:.0f}/s "
        f"(x{many / one:.2f})",
        flush=True,
    )
    if (os.cpu_count() or 1) < args.instances:
        print(f"  note: fewer CPUs ({os.cpu_count()}) than instances: CPU bounds the gain")


if __name__ == "__main__":
    asyncio.run(main())
