"""The log server's records against a real database (PostgreSQL when TEST_DATABASE_URL is set):
the chain stays whole when two instances record for one user at once, and nothing in clear."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.engine import create_sessionmaker
from bot.db.models import User
from bot.db.models.logserver import GENESIS, LogServer, OutboxRecord
from bot.state import MemoryState
from services.crypto import KeyVersion
from services.crypto.config import CryptoSettings
from services.crypto.fields import FieldDecryptError
from services.crypto.sequoia_engine import SequoiaEngine
from services.crypto.service import CryptoService
from services.logserver import LogServerService, LogServerSettings, RecordKind, RecordResult

CHAT_ID = -1009876543210


async def _service(engine: AsyncEngine, tmp_path: Path) -> LogServerService:
    sessionmaker = create_sessionmaker(engine)
    crypto = CryptoService.build(
        CryptoSettings(master_key_file=tmp_path / "master.key", gnupg_home=tmp_path / "gnupg")
    )
    await crypto.start(sessionmaker)
    return LogServerService(sessionmaker, crypto, MemoryState("t:"), LogServerSettings())


async def test_two_instances_recording_at_once_hand_out_each_seq_once(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    first = await _service(engine, tmp_path)
    second = await _service(engine, tmp_path)  # another process: its own caches
    key = SequoiaEngine().generate_key("Reader", version=KeyVersion.V4, passphrase="pw")
    async with first.sessionmaker() as session:
        session.add(User(id=42))
        await session.flush()
        server = await first.bind(session, 42, CHAT_ID, "Secret title")
        await first.set_key(session, server, key.info)
        server.thread_chat = 7
        await session.commit()

    async def burst(service: LogServerService, tag: str) -> list[RecordResult]:
        return list(
            await asyncio.gather(
                *(service.record(42, RecordKind.CHAT, {"from": tag, "n": n}) for n in range(40))
            )
        )

    results = await asyncio.gather(burst(first, "a"), burst(second, "b"))
    assert all(r is RecordResult.QUEUED for rs in results for r in rs)

    # QUEUED means stored: every record is in the outbox now, each with its own seq.
    async with first.sessionmaker() as session:
        rows = (await session.scalars(select(OutboxRecord).order_by(OutboxRecord.seq))).all()
        head = await session.get(LogServer, 42)
    assert head is not None
    assert [r.seq for r in rows] == list(range(80))
    assert head.next_seq == 80
    assert head.last_digest == GENESIS  # nothing sealed until delivery
    seen: set[tuple[str, int]] = set()
    for row in rows:
        assert row.armored is None
        assert row.body_enc is not None
        assert '"from"' not in row.body_enc
        body = second.open_body(42, row.seq, row.body_enc)
        seen.add((body["from"], body["n"]))
    assert len(seen) == 80


async def test_a_stored_body_is_bound_to_its_user_and_seq(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    service = await _service(engine, tmp_path)
    key = SequoiaEngine().generate_key("Reader", version=KeyVersion.V4, passphrase="pw")
    async with service.sessionmaker() as session:
        session.add(User(id=46))
        await session.flush()
        server = await service.bind(session, 46, CHAT_ID - 6, "t")
        await service.set_key(session, server, key.info)
        await session.commit()
    for n in range(2):
        assert await service.record(46, RecordKind.CHAT, {"n": n}) is RecordResult.QUEUED
    async with service.sessionmaker() as session:
        rows = (await session.scalars(select(OutboxRecord).order_by(OutboxRecord.seq))).all()
    first, second = rows
    assert first.body_enc is not None
    assert second.body_enc is not None
    # A body copied onto another row (another seq) does not open: rows cannot be swapped.
    with pytest.raises(FieldDecryptError):
        service.open_body(46, second.seq, first.body_enc)


async def test_the_link_is_stored_encrypted_and_found_by_its_keyed_hash(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    service = await _service(engine, tmp_path)
    async with service.sessionmaker() as session:
        session.add(User(id=43))
        await session.flush()
        await service.bind(session, 43, CHAT_ID, "Secret title")
        await session.commit()
    async with service.sessionmaker() as session:
        found = await service.by_chat(session, CHAT_ID)
        assert found is not None
        assert found.user_id == 43
        assert str(CHAT_ID) not in found.chat_enc + found.chat_hash
        assert "Secret title" not in found.chat_enc
        assert service.chat_of(found) == (CHAT_ID, "Secret title")
        assert await service.by_chat(session, CHAT_ID - 1) is None


async def test_a_record_that_cannot_be_made_does_not_undo_the_callers_work(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    service = await _service(engine, tmp_path)
    key = SequoiaEngine().generate_key("Reader", version=KeyVersion.V4, passphrase="pw")
    async with service.sessionmaker() as session:
        session.add(User(id=44))
        await session.flush()
        bound = await service.bind(session, 44, CHAT_ID, "t")
        await service.set_key(session, bound, key.info)
        await session.commit()
    async with service.sessionmaker() as session:
        user = await session.get(User, 44)
        assert user is not None
        user.locale = "en"  # the caller's own change, e.g. a payment
        # A body that cannot be stored (not JSON): the record fails, the caller's change stays.
        result = await service.record_in(session, 44, RecordKind.BILLING, {"stars": {1}})
        await session.commit()
    assert result is RecordResult.FAILED
    async with service.sessionmaker() as session:
        user = await session.get(User, 44)
        server = await session.get(LogServer, 44)
        assert user is not None
        assert user.locale == "en"
        assert server is not None
        assert server.next_seq == 0
        assert await service.queued(session, 44) == 0
