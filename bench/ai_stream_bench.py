"""AI chat benchmark (issue 5): many conversations streaming at once through the whole bot.

    python -m bench.ai_stream_bench [--conversations 200] [--tokens 300] [--pace 0.02]
        [--baseline PATH]

``--baseline PATH``: first run the same scenario against the bot in PATH (a checkout of the old
code, e.g. ``git worktree add /tmp/base <commit>``; it runs with this virtualenv), then against
this tree, and print both with the ratios.

This process plays Telegram (the Bot API emulator, flood limits ON: ~1 message/s per private chat
with bursts of 3, 30/s overall; edits count) and a fake OpenAI server (the real ``openai`` SDK in
the bot parses its SSE) that streams ``--tokens`` tokens ``--pace`` seconds apart; the real bot
runs as its own process (``python -m bot``, long polling, PostgreSQL). Every user sends one
question at the same moment. Reported:

- added latency to first visible text: the first ``sendMessageDraft``/``sendMessage`` with text
  reaching the emulator, minus the moment the fake provider wrote its first token (same clock);
- Telegram calls per reply (chat actions, drafts, messages, edits);
- 429 answers from the emulator;
- the bot process's RSS (peak, from /proc);
- database pool time-outs in the bot's log.

Needs PostgreSQL (BENCH_DATABASE_URL or TEST_DATABASE_URL, default the local server); a throw-away
database is created and dropped. Uses Redis when BENCH_REDIS_URL/TEST_REDIS_URL is set.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from bot.db.engine import create_engine, create_sessionmaker
from bot.db.models import MovementKind
from services import ledger, users
from tests.db import PostgresDatabases
from tests.emulator.registry import Call
from tests.emulator.server import BotAPIEmulator
from tests.fakes.ai_servers import FakeOpenAI, Reply

ROOT = Path(__file__).resolve().parent.parent

PG = os.environ.get("BENCH_DATABASE_URL") or os.environ.get(
    "TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
REDIS = os.environ.get("BENCH_REDIS_URL") or os.environ.get("TEST_REDIS_URL")
VISIBLE = ("sendMessageDraft", "sendMessage")
COUNTED = ("sendChatAction", "sendMessageDraft", "sendMessage", "editMessageText")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


def rss_mib(pid: int | str = "self") -> tuple[float, float]:
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields.get("VmRSS", 0.0), fields.get("VmHWM", 0.0)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run(
    db_url: str,
    n: int,
    tokens: int,
    pace: float,
    limits: bool,
    timeout: float = 180,
    root: Path = ROOT,
) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="ai-bench-"))
    fake = FakeOpenAI()
    await fake.start()
    pieces = [f"tok{i} " if i % 40 else f"\n\ntok{i} " for i in range(tokens)]
    fake.default = Reply(pieces=pieces, delay=pace, input_tokens=50, output_tokens=tokens)
    seen: dict[int, float] = {}
    finals: set[int] = set()
    calls: dict[int, Counter[str]] = defaultdict(Counter)
    engine = create_engine(db_url)
    sessionmaker = create_sessionmaker(engine)
    log = (workdir / "bot.log").open("w+")  # lives as long as the bot process
    async with BotAPIEmulator(token="123456:BENCH-token") as emulator:
        for method in COUNTED:
            original = emulator.methods.get(method)
            assert original is not None

            def wrap(name: str, handler: Any) -> Any:
                async def timed(call: Call) -> Any:
                    chat_id = call.opt_int("chat_id") or 0
                    calls[chat_id][name] += 1
                    if name in VISIBLE and call.opt_str("text") and chat_id not in seen:
                        seen[chat_id] = time.monotonic()
                    result = await handler(call)
                    if name == "sendMessage" and "ai1:x:" in str(call.params.get("reply_markup")):
                        finals.add(chat_id)  # the last part carries the exclude button
                    return result

                return timed

            emulator.override_method(method, wrap(method, original))
        emulator.limits.enabled = limits
        env = {
            **os.environ,
            "BOT_TOKEN": emulator.token,
            "TELEGRAM_API_URL": emulator.base_url,
            "DATABASE_URL": db_url,
            "HTTP_ENABLED": "false",
            "MIGRATE_ON_START": "false",
            # one prefix per run: a second run must not find the first one's update ids
            "REDIS_PREFIX": f"ai-bench-{os.getpid()}-{uuid.uuid4().hex[:8]}:",
            "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
            "CRYPTO__MASTER_KEY_FILE": str(workdir / "m.key"),
            "CRYPTO__GNUPG_HOME": str(workdir / "gnupg"),
            "AI__OPENAI_API_KEY": "sk-bench",
            "AI__OPENAI_BASE_URL": fake.base_url,
            "AI__FREE_DAILY_CREDITS": "0",
        }
        if REDIS:
            env["REDIS_URL"] = REDIS
        else:
            env.pop("REDIS_URL", None)
        bot = subprocess.Popen(  # noqa: ASYNC220 - started once, before the measurement
            [sys.executable, "-m", "bot"], env=env, cwd=root, stdout=log, stderr=log
        )
        try:
            try:
                await emulator.wait_for_call("getUpdates", timeout=240)
            except TimeoutError:
                log.seek(0)
                raise SystemExit("the bot did not start:\n" + log.read()[-3000:]) from None
            actors = [emulator.create_user(f"U{i}", language_code="en") for i in range(n)]
            async with sessionmaker() as session:
                for actor in actors:
                    await users.get_or_create(session, actor.id)
                    await ledger.apply_movement(session, actor.id, 10_000, MovementKind.GRANT)
                await session.commit()
            rss_before, _ = rss_mib(bot.pid)
            cpu_before = cpu_seconds(bot.pid)
            started = time.monotonic()
            await asyncio.gather(*(a.send_text(f"question {i}") for i, a in enumerate(actors)))

            def all_final() -> bool | None:
                return True if len(finals) >= n else None

            try:
                await emulator.wait_until(all_final, timeout=timeout, what="every reply final")
            except TimeoutError:
                log.seek(0)
                print(f"only {len(finals)} of {n} replies final; bot log: {workdir / 'bot.log'}")
                print(log.read()[-2000:])
                errors = Counter((c.method, c.error_code) for c in emulator.calls if not c.ok)
                print("errors:", dict(errors))
            elapsed = time.monotonic() - started
            rss_after, rss_peak = rss_mib(bot.pid)
            bot_cpu = cpu_seconds(bot.pid) - cpu_before
            errors_429 = len(emulator.errors(429))
            log.seek(0)
            text = log.read()
            # A time-out the error boundary retried is logged as a warning without the pool's
            # message; one that was final (or outside an update) with its traceback.
            pool_timeouts = text.count("QueuePool limit") + text.count(
                "transient failure (TimeoutError)"
            )
            answered_twice = text.count("charged before; not charged again")
            other_errors = len([c for c in emulator.calls if not c.ok and c.error_code != 429])
        finally:
            bot.terminate()
            try:
                bot.wait(timeout=30)
            except subprocess.TimeoutExpired:
                bot.kill()
                bot.wait(timeout=30)
            await engine.dispose()
    await fake.close()

    firsts = {
        r.body["messages"][-1]["content"]: r.first_token_at
        for r in fake.stream_requests
        if r.body is not None
    }
    added: list[float] = []
    for i, actor in enumerate(actors):
        provider_first = firsts.get(f"question {i}")
        shown = seen.get(actor.chat.id)
        if provider_first is not None and shown is not None:
            added.append((shown - provider_first) * 1000)
    per_reply = [sum(calls[a.chat.id][m] for m in COUNTED) for a in actors]
    by_method = {m: statistics.mean(calls[a.chat.id][m] for a in actors) for m in COUNTED}
    return {
        "conversations": n,
        "tokens": tokens,
        "pace_ms": pace * 1000,
        "limits": limits,
        "elapsed_s": elapsed,
        "added_ms_p50": percentile(added, 50),
        "added_ms_p95": percentile(added, 95),
        "added_ms_max": max(added),
        "measured": len(added),
        "final": len(finals),
        "calls_per_reply_mean": statistics.mean(per_reply),
        "calls_per_reply_max": max(per_reply),
        "by_method": by_method,
        "http_429": errors_429,
        "pool_timeouts": pool_timeouts,
        "answered_twice": answered_twice,
        "rss_after_mib": rss_after,
        "bot_cpu_s": bot_cpu,
        "load": os.getloadavg()[0],
        "other_errors": other_errors,
        "rss_before_mib": rss_before,
        "rss_peak_mib": rss_peak,
    }


def report(result: dict[str, Any], label: str) -> None:
    print(f"-- {label}")
    print(
        f"conversations            {result['conversations']} x {result['tokens']} tokens "
        f"@ {result['pace_ms']:.0f} ms, flood limits {'on' if result['limits'] else 'off'}"
    )
    print(f"complete replies         {result['final']}/{result['conversations']}")
    print(f"all replies final in     {result['elapsed_s']:.1f} s")
    print(
        f"added latency to first visible text (ms, {result['measured']} replies): "
        f"p50 {result['added_ms_p50']:.1f}  p95 {result['added_ms_p95']:.1f}  "
        f"max {result['added_ms_max']:.1f}"
    )
    print(
        f"Telegram calls per reply mean {result['calls_per_reply_mean']:.1f}  "
        f"max {result['calls_per_reply_max']}  "
        + "  ".join(f"{m} {v:.1f}" for m, v in result["by_method"].items())
    )
    print(f"429 answers              {result['http_429']} (other errors {result['other_errors']})")
    print(f"pool time-outs           {result['pool_timeouts']} (retried or final)")
    print(
        f"bot CPU during the run   {result['bot_cpu_s']:.1f} s "
        f"(load average {result['load']:.1f} at the end, {os.cpu_count()} CPUs)"
    )
    print(f"prompts answered twice   {result['answered_twice']} (charged once)")
    print(
        f"bot RSS                  {result['rss_before_mib']:.0f} MiB idle, "
        f"{result['rss_after_mib']:.0f} MiB after, {result['rss_peak_mib']:.0f} MiB peak"
    )


def ratio(now: float, before: float) -> str:
    return f"{now / before:.2f}x" if before else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--tokens", type=int, default=300)
    parser.add_argument("--pace", type=float, default=0.02, help="seconds between tokens")
    parser.add_argument("--no-limits", action="store_true", help="emulator flood limits off")
    parser.add_argument("--baseline", type=Path, help="a checkout of the old code to compare")
    args = parser.parse_args()

    databases = PostgresDatabases(PG)
    databases.create_template()
    results: dict[str, dict[str, Any]] = {}
    roots = [("baseline", args.baseline)] if args.baseline else []
    roots.append(("this tree", ROOT))
    try:
        for label, root in roots:
            url = databases.clone()
            try:
                results[label] = asyncio.run(
                    run(
                        url,
                        args.conversations,
                        args.tokens,
                        args.pace,
                        not args.no_limits,
                        root=root.resolve(),
                    )
                )
            finally:
                databases.drop(url)
    finally:
        databases.drop_template()
    for label, result in results.items():
        report(result, label)
    if "baseline" in results:
        before, now = results["baseline"], results["this tree"]
        print("-- this tree / baseline")
        for key in ("final", "added_ms_p50", "added_ms_p95", "calls_per_reply_mean", "http_429"):
            print(f"{key:24} {ratio(now[key], before[key])}")


if __name__ == "__main__":
    main()
