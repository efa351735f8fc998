"""Issue 13: a record is stored before `record()` says ``QUEUED``. A real bot process (its own
interpreter, real PostgreSQL) records 1,000 events while delivery fails, and is killed with
SIGKILL; a fresh instance then delivers every record exactly once, in one unbroken chain."""

from __future__ import annotations

import asyncio
import os
import pickle
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.db.engine import create_engine, create_sessionmaker
from bot.db.models.logserver import GENESIS, OutboxRecord
from bot.settings import Settings
from services.crypto import GeneratedKey, KeyVersion, RecordContext
from services.crypto.sequoia_engine import SequoiaEngine
from services.logserver import LogServerSettings
from tests.e2e.test_logserver import (
    FAST,
    UNLIMITED,
    WAIT,
    onboard,
    open_each,
    posted_records,
    record_count,
    service_of,
)
from tests.emulator.errors import server_error
from tests.emulator.registry import Call
from tests.emulator.server import BotAPIEmulator
from tests.harness import eventually, run_bot, settings_for

TOTAL = 1000
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def user_key() -> GeneratedKey:
    return SequoiaEngine().generate_key("Log reader", version=KeyVersion.V4, passphrase="pw")


async def test_kill_9_between_record_and_delivery_loses_nothing_and_sends_nothing_twice(
    emulator: BotAPIEmulator,
    make_settings: Callable[..., Settings],
    user_key: GeneratedKey,
    pg_url: str,
    tmp_path: Path,
) -> None:
    # A short lease: the killed process's claim on the chain runs out soon after the kill.
    cfg: LogServerSettings = FAST.model_copy(update={"lease_seconds": 3})
    settings = make_settings(logserver=cfg, sendbudget=UNLIMITED)
    async with run_bot(emulator, settings) as app:
        user = emulator.create_user("Crash", language_code="en")
        group = await onboard(app, emulator, user, user_key)
        user_id = user.id
    assert record_count(emulator, group) == 1  # the setup record

    # Delivery into the group fails (502) while the first process lives: every record it
    # stores is between record() and delivery when it is killed.
    sends = 0
    outage = True

    def gated(method: str) -> Any:
        original = emulator.methods.get(method)
        assert original is not None

        async def handler(call: Call) -> Any:
            nonlocal sends
            if call.params.get("chat_id") == group.id and outage:
                sends += 1
                raise server_error(502)
            return await original(call)

        return handler

    for method in ("sendMessage", "sendDocument"):
        emulator.override_method(method, gated(method))

    settings_file = tmp_path / "settings.pickle"
    settings_file.write_bytes(pickle.dumps(settings_for(emulator, settings, "polling")))
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.e2e.crash_child",
        str(settings_file),
        str(user_id),
        str(TOTAL),
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert child.stdout is not None
    engine = create_engine(pg_url)
    sessionmaker = create_sessionmaker(engine)
    queued: set[int] = set()
    try:
        while True:
            line = (await asyncio.wait_for(child.stdout.readline(), WAIT)).decode().strip()
            assert line, "the bot process ended early"
            if line == "DONE":
                break
            word, n, *_ = line.split()
            assert word == "QUEUED", line
            queued.add(int(n))
        assert queued == set(range(TOTAL))
        # Killed the moment the last record() returned: whatever QUEUED promised must be stored.
        child.send_signal(signal.SIGKILL)
        await child.wait()
        async with sessionmaker() as session:
            stored = await session.scalar(
                select(func.count())
                .select_from(OutboxRecord)
                .where(OutboxRecord.user_id == user_id)
            )
        assert stored == TOTAL
        assert record_count(emulator, group) == 1
    finally:
        await engine.dispose()
        if child.returncode is None:
            child.send_signal(signal.SIGKILL)
        await child.wait()
    assert child.returncode == -signal.SIGKILL

    # The new instance keeps Telegram's group limit, so the backlog goes as `.asc` documents.
    outage = False
    relaxed = FAST.model_copy(update={"lease_seconds": 3})
    async with run_bot(emulator, make_settings(logserver=relaxed)) as restarted:
        await emulator.wait_until(
            lambda: record_count(emulator, group) >= TOTAL + 1 or None,
            300,
            what="every record after the restart",
        )

        async def drained() -> bool:
            async with restarted.sessionmaker() as session:
                return await service_of(restarted).queued(session, user_id) == 0

        await eventually(drained, "the outbox drained", timeout=WAIT)
        posted = posted_records(emulator, group)
        # Each record on its own, those inside a coalesced document too.
        opened = open_each(restarted, user_key, posted)
        documents = [p for p in posted if p.count > 1]
        assert documents, "the backlog was not coalesced: documents were not tested"

    # Exactly once each, and one chain: every record's prev is the digest of the record
    # before it, each sealed for the topic it was posted in.
    seqs = sorted(r.record.seq for _, r in opened)
    assert seqs == list(range(TOTAL + 1))
    prev = GENESIS
    bodies: set[int] = set()
    for item, record in sorted(opened, key=lambda pair: pair[1].record.seq):
        assert record.signer_fingerprint is not None
        assert record.record.prev == prev, f"chain broken at seq {record.record.seq}"
        assert record.ctx == RecordContext(group.id, item.message.thread_id)
        prev = record.digest
        if record.record.kind == "chat":
            bodies.add(int(record.record.body["n"]))
    assert bodies == set(range(TOTAL))
