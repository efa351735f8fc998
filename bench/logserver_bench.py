"""Log server delivery benchmark (issue 4). Run by hand:

    python -m bench.logserver_bench [--postgres postgresql+asyncpg://postgres@127.0.0.1:5432/postgres]

With ``--postgres`` (a server URL) it creates a throw-away database there and drops it after;
without, a temporary SQLite file.

A burst of 1,000 records for one group and 10 records each for 100 other groups, all queued at
once, delivered by the real `DeliveryWorker` through the real aiogram `Bot` to the Bot API emulator
with Telegram's flood limits on (20 messages a minute per group, 30 a second overall). Prints the
time to deliver everything, the 429s received, records lost and the ratio to the minimum time the
limits allow for the messages actually sent (and for sending every record on its own).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select

from bot.db import migrate
from bot.db.engine import create_engine, create_sessionmaker
from bot.db.models import User
from bot.db.models.logserver import OutboxRecord
from bot.i18n import Translator
from bot.sendbudget import SendBudgetMiddleware
from bot.state import MemoryState
from services.crypto import KeyVersion
from services.crypto.config import CryptoSettings
from services.crypto.sequoia_engine import SequoiaEngine
from services.crypto.service import CryptoService
from services.logserver import LogServerService, LogServerSettings, RecordKind
from services.logserver.delivery import DeliveryWorker
from services.sendbudget import MemoryStore, SendBudget, SendBudgetSettings
from tests.db import _execute, with_database
from tests.emulator import BotAPIEmulator, admin_rights
from tests.emulator.state import Chat, Member

BIG_BURST = 1000
SMALL_GROUPS = 100
SMALL_EACH = 10


@dataclass
class Result:
    records: int
    seconds_queue: float
    seconds_deliver: float
    messages: int
    documents: int
    retry_after: int
    lost: int
    duplicates: int
    minimum_sent: float
    minimum_single: float


def minimum_seconds(per_group: Counter[int], group_limit: int, global_limit: int) -> float:
    """The least time Telegram's limits allow for these messages: the first `limit` go at once,
    then `limit` per window (a minute per group, a second overall)."""
    group = max((math.ceil(n / group_limit) - 1) * 60.0 for n in per_group.values())
    total = sum(per_group.values())
    overall = (math.ceil(total / global_limit) - 1) * 1.0
    return max(group, overall, 0.0)


async def run(postgres: str | None) -> Result:
    tmp = Path(tempfile.mkdtemp(prefix="libral-bench-"))
    if postgres is None:
        return await _run(f"sqlite+aiosqlite:///{tmp / 'bench.db'}", tmp)
    name = f"libral_lsbench_{uuid.uuid4().hex[:10]}"
    await _execute(postgres, f'CREATE DATABASE "{name}"')
    try:
        return await _run(with_database(postgres, name), tmp)
    finally:
        await _execute(postgres, f'DROP DATABASE "{name}" WITH (FORCE)')


async def _run(url: str, tmp: Path) -> Result:
    engine = create_engine(url)
    await migrate.upgrade(engine)
    sessionmaker = create_sessionmaker(engine)
    crypto = CryptoService.build(
        CryptoSettings(master_key_file=tmp / "master.key", gnupg_home=tmp / "gnupg")
    )
    await crypto.start(sessionmaker)
    settings = SendBudgetSettings()
    budget = SendBudget(settings, MemoryStore())
    service = LogServerService(
        sessionmaker, crypto, MemoryState("bench:"), LogServerSettings(), budget
    )
    key = SequoiaEngine().generate_key("Bench", version=KeyVersion.V4, passphrase="bench")

    async with BotAPIEmulator() as emu:
        bot = emu.make_bot(timeout=30)
        bot.session.middleware(SendBudgetMiddleware(budget))  # as bot/app.py installs it
        owner = emu.create_user("Owner")
        groups: list[tuple[int, Chat]] = []
        bot_user = emu.bot_user
        rights = admin_rights(can_manage_topics=True, can_delete_messages=True)
        for n in range(1 + SMALL_GROUPS):
            user_id = 500_000_000 + n
            group = emu.create_supergroup(owner, f"Bench {n}", is_forum=True)
            group.members[bot_user.id] = Member(bot_user, "administrator", rights)
            topic = await bot.create_forum_topic(group.id, "Conversations")
            async with sessionmaker() as session:
                session.add(User(id=user_id))
                await session.flush()
                server = await service.bind(session, user_id, group.id, group.title or "")
                await service.set_key(session, server, key.info)
                server.thread_chat = topic.message_thread_id
                await session.commit()
            groups.append((user_id, group))

        emu.limits.enabled = True
        worker = DeliveryWorker(service, bot, Translator())
        started = time.perf_counter()
        big_user = groups[0][0]
        for n in range(BIG_BURST):
            await service.record(big_user, RecordKind.CHAT, {"n": n, "text": "x" * 200})
        for user_id, _ in groups[1:]:
            for n in range(SMALL_EACH):
                await service.record(user_id, RecordKind.CHAT, {"n": n, "text": "x" * 200})
        queued_at = time.perf_counter()
        worker.start()
        total = BIG_BURST + SMALL_GROUPS * SMALL_EACH
        while True:
            async with sessionmaker() as session:
                left = await session.scalar(select(func.count()).select_from(OutboxRecord))
            if not left and not worker._sends:
                break
            await asyncio.sleep(0.05)
        finished = time.perf_counter()
        await worker.stop()

        per_group: Counter[int] = Counter()
        for _, group in groups:
            for message in emu.messages(group, from_bot=True):
                if message.document is not None or (
                    message.text and "BEGIN PGP MESSAGE" in message.text
                ):
                    per_group[group.id] += 1
        # A coalesced document is one OpenPGP message carrying many records: count records by
        # the seqs each acknowledged send carried.
        delivered = 0
        duplicates = 0
        for seqs in worker.stats.seqs_sent.values():
            delivered += len(set(seqs))
            duplicates += len(seqs) - len(set(seqs))
        singles: Counter[int] = Counter({groups[0][1].id: BIG_BURST})
        for _, group in groups[1:]:
            singles[group.id] = SMALL_EACH
        result = Result(
            records=total,
            seconds_queue=queued_at - started,
            seconds_deliver=finished - started,
            messages=worker.stats.messages,
            documents=worker.stats.documents,
            retry_after=len(emu.errors(429)),
            lost=total - delivered,
            duplicates=duplicates,
            minimum_sent=minimum_seconds(
                per_group, settings.group_per_minute, settings.global_per_second
            ),
            minimum_single=minimum_seconds(
                singles, settings.group_per_minute, settings.global_per_second
            ),
        )
        for call in emu.errors(429):
            print("429:", call.method, call.params.get("chat_id"), call.description)
        await bot.session.close()
    await engine.dispose()
    return result


def report(result: Result, database: str) -> str:
    ratio = result.seconds_deliver / result.minimum_sent if result.minimum_sent else float("nan")
    return "\n".join(
        [
            f"- database: {database}; {result.records} records (1 group × {BIG_BURST}, "
            f"{SMALL_GROUPS} groups × {SMALL_EACH}), emulator limits on",
            f"- record() for all of them: {result.seconds_queue:.2f} s "
            f"({result.seconds_queue / result.records * 1000:.2f} ms a call)",
            f"- delivered everything in {result.seconds_deliver:.1f} s: "
            f"{result.messages} messages + {result.documents} `.asc` documents",
            f"- 429 received: {result.retry_after}; records lost: {result.lost}; "
            f"duplicates: {result.duplicates}",
            f"- minimum the limits allow for those {result.messages + result.documents} sends: "
            f"{result.minimum_sent:.1f} s → ratio {ratio:.2f}",
            f"- minimum for sending every record on its own: {result.minimum_single:.0f} s "
            f"({result.minimum_single / 60:.0f} min): coalescing makes the burst "
            f"{result.minimum_single / result.seconds_deliver:.0f}× faster than that bound",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=None, help="PostgreSQL server URL (own database)")
    args = parser.parse_args()
    result = asyncio.run(run(args.postgres))
    database = "PostgreSQL" if args.postgres else "SQLite"
    print(report(result, database))


if __name__ == "__main__":
    main()
