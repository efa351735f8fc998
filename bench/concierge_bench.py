"""Concierge benchmark (issue 15): many sessions at once on one staff forum, flood limits on.

    python -m bench.concierge_bench [--sessions 50]

This process plays Telegram (the Bot API emulator with its flood limits ON: ~1 message/s per
private chat with bursts of 3, 20 a minute per group, 30 a second overall; edits count) and runs
the real application in-process (long polling, PostgreSQL, Redis when BENCH_REDIS_URL or
TEST_REDIS_URL is set). One desk, one persona; ``--sessions`` users each open a session (a topic
each), give a name, and then all send one message at the same moment. Reported:

- 429 answers from the emulator (the one send budget must leave none);
- messages lost: user messages that never reached their topic, or were charged other than once;
- the staff-side delay (from the user's message to its copy in the topic) p50/p95/max, next to the
  least the group limit allows: with one group at 20 a minute, the k-th message of a burst cannot
  go out before ``60 × floor(k / 20)`` seconds.

Needs PostgreSQL (BENCH_DATABASE_URL or TEST_DATABASE_URL, default the local server); a throw-away
database is created and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import func, select

from bot.db.models import CreditMovement, MovementKind
from bot.db.models.concierge import ConciergePersona, ConciergeSession
from bot.settings import Settings
from services import ledger, users
from services.concierge import desk
from services.crypto.config import CryptoSettings
from tests.db import PostgresDatabases
from tests.emulator.server import BotAPIEmulator
from tests.emulator.state import Member, admin_rights
from tests.harness import run_bot

PG = os.environ.get("BENCH_DATABASE_URL") or os.environ.get(
    "TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
REDIS = os.environ.get("BENCH_REDIS_URL") or os.environ.get("TEST_REDIS_URL")
GROUP_PER_MINUTE = 20


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))]


def floor_delays(n: int, per_minute: int = GROUP_PER_MINUTE) -> list[float]:
    """The least delay of each message of an n-message burst into one group."""
    return [60.0 * (k // per_minute) for k in range(n)]


async def run(db_url: str, n: int, workdir: Path) -> dict[str, Any]:
    settings = Settings(
        _env_file=None,
        bot_token=SecretStr("123456:BENCH-token"),
        database_url=db_url,
        redis_url=REDIS,
        redis_prefix=f"bench{uuid.uuid4().hex[:8]}:",
        http_enabled=False,
        migrate_on_start=False,
        crypto=CryptoSettings(master_key_file=workdir / "master.key", gnupg_home=workdir / "gnupg"),
        log_level="WARNING",
    )
    async with BotAPIEmulator(token="123456:BENCH-token") as emu:
        emu.limits.enabled = True
        async with run_bot(emu, settings) as app:
            concierge = app.dispatcher.workflow_data["concierge"]
            operator = emu.create_user("Ops", language_code="en")
            group = emu.create_supergroup(operator, "Desk", is_forum=True)
            rights = admin_rights(
                can_manage_topics=True, can_delete_messages=True, can_pin_messages=True
            )
            group.members[emu.bot_user.id] = Member(emu.bot_user, "administrator", rights)
            async with app.sessionmaker() as session:
                await desk.link(session, concierge.cipher, group.id)
                persona = ConciergePersona(name="Mika", bio="Tea.", attributes="", price=1)
                session.add(persona)
                await session.commit()
                persona_id = persona.id

            people = [emu.create_user(f"U{i}", language_code="en") for i in range(n)]
            async with app.sessionmaker() as session:
                for person in people:
                    await users.get_or_create(session, person.id)
                    await ledger.apply_movement(session, person.id, 10, MovementKind.GRANT)
                await session.commit()

            async def open_one(person: Any) -> None:
                sent = await person.send_text(f"/start p_{persona_id}")
                await person.wait_reply(timeout=120, after=sent)
                named = await person.send_text(f"name {person.id}")
                await person.wait_reply(timeout=120, after=named)

            setup_started = time.monotonic()
            await asyncio.gather(*(open_one(p) for p in people))
            setup_seconds = time.monotonic() - setup_started
            before_429 = len(emu.errors(429))

            sent_at: dict[str, float] = {}
            burst_started = time.monotonic()
            for person in people:
                text = f"question from {person.id} {uuid.uuid4().hex[:6]}"
                sent_at[text] = emu.clock.now()
                await person.send_text(text)

            def arrived() -> dict[str, float] | None:
                found = {
                    str(c.params.get("text")): c.at
                    for c in emu.calls_to("sendMessage", ok=True)
                    if str(c.params.get("chat_id")) == str(group.id)
                    and str(c.params.get("text")) in sent_at
                }
                return found if len(found) >= n else None

            timeout = 60.0 * (n // GROUP_PER_MINUTE + 2) + 120
            try:
                got = await emu.wait_until(arrived, timeout, what="every message in its topic")
            except TimeoutError:
                got = {
                    str(c.params.get("text")): c.at
                    for c in emu.calls_to("sendMessage", ok=True)
                    if str(c.params.get("text")) in sent_at
                }
            burst_seconds = time.monotonic() - burst_started
            async with app.sessionmaker() as session:
                charges = await session.scalar(
                    select(func.count())
                    .select_from(CreditMovement)
                    .where(CreditMovement.kind == MovementKind.USAGE)
                )
                topics = await session.scalar(select(func.count()).select_from(ConciergeSession))
            delays = [got[text] - sent_at[text] for text in got]
    return {
        "sessions": n,
        "topics": topics,
        "setup_seconds": setup_seconds,
        "burst_seconds": burst_seconds,
        "delivered": len(got),
        "lost": n - len(got),
        "charges": charges,
        "429_total": len(emu.errors(429)),
        "429_in_burst": len(emu.errors(429)) - before_429,
        "delays": delays,
        "floor": floor_delays(n),
    }


def report(result: dict[str, Any]) -> None:
    delays: list[float] = result["delays"]
    floor: list[float] = result["floor"]
    print(f"sessions: {result['sessions']} (topics {result['topics']})")
    print(f"set-up (open + name, all at once): {result['setup_seconds']:.1f} s")
    print(f"delivered: {result['delivered']}  lost: {result['lost']}  charges: {result['charges']}")
    print(f"429 answers: {result['429_total']} (in the burst {result['429_in_burst']})")
    if delays:
        p50, p95 = percentile(delays, 50), percentile(delays, 95)
        mean = statistics.mean(delays)
        print(f"staff-side delay s: p50 {p50:.1f} / p95 {p95:.1f} / max {max(delays):.1f}")
        print(f"  mean {mean:.1f}")
    f50, f95 = percentile(floor, 50), percentile(floor, 95)
    print(f"least the group limit allows s: p50 {f50:.1f} / p95 {f95:.1f} / max {max(floor):.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=50)
    args = parser.parse_args()
    databases = PostgresDatabases(PG)
    databases.create_template()
    url = databases.clone()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            result = asyncio.run(run(url, args.sessions, Path(tmp)))
        report(result)
    finally:
        databases.drop(url)
        databases.drop_template()


if __name__ == "__main__":
    main()
