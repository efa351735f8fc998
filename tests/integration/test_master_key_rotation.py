"""Master-key rotation on the real models (issue 11): rows made through the real services under key
A; A→B rotation (``services.crypto.rotation``, ``python -m bot rotate-master-key``); then key A is
removed and every value still opens and every look-up still finds its row. A rotation killed in the
middle is finished by a re-run; a third run changes nothing.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import String, Text, Update, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.sql.expression import TableClause

from bot import rotate
from bot.db.encrypted import Encrypted, registry
from bot.db.engine import create_sessionmaker
from bot.db.models import Base
from bot.db.models.ai import AIPreference, AITurn
from bot.db.models.concierge import ConciergePersona, RelayDirection
from bot.db.models.crypto import ServerKey, ServerKeyStatus
from bot.db.models.logserver import OutboxRecord
from bot.db.models.rooms import Room
from bot.settings import Settings
from bot.state import MemoryState
from handlers.rooms import adder_of
from middlewares.users import UserDirectory
from services.admin.identity import ActivityRecorder, UsernameHasher
from services.admin.users import LookupFailed, find_user
from services.ai import personas
from services.ai.catalogue import ProviderName
from services.ai.chat import AIService
from services.ai.config import AISettings
from services.ai.context import PRIVATE
from services.ai.keys import KeyStore
from services.concierge import desk as concierge_desk
from services.concierge import sessions as concierge_sessions
from services.concierge.config import ConciergeSettings
from services.crypto import server_keys
from services.crypto.config import CryptoSettings
from services.crypto.fields import FieldCipher, FieldDecryptError, key_id_of
from services.crypto.rotation import ColumnCount, rotate_master_key
from services.crypto.sequoia_engine import SequoiaEngine
from services.crypto.service import CryptoService
from services.logserver import LogServerService, LogServerSettings
from services.logserver.types import RecordKind, RecordResult
from services.rooms.config import RoomsSettings
from services.rooms.service import RoomService

KEY_A = bytes(range(32))
KEY_B = bytes(range(100, 132))
LOG_CHAT = -1001111111111
GROUP_CHAT = -1002222222222
ROOM_CHAT = -1003333333333
LEGACY_CHAT = -1004444444444
DESK_CHAT = -1005555555555
USERS = {1001: "Haruka_Example", 1002: "ren_tanaka", 1003: "aoi_s"}
OWN_KEY = "sk-test-0123456789abcdefghijklmnop"
PERSONA = "Answer like a haiku poet."


def _b64(key: bytes) -> str:
    return base64.b64encode(key).decode()


def _crypto(tmp_path: Path, current: bytes, *old: bytes) -> CryptoSettings:
    return CryptoSettings(
        master_key=SecretStr(_b64(current)),
        old_master_keys=SecretStr(",".join(_b64(k) for k in old)) if old else None,
        gnupg_home=tmp_path / "gnupg",
    )


@dataclass
class Services:
    sm: async_sessionmaker[AsyncSession]
    crypto: CryptoService
    logs: LogServerService
    ai: AIService
    rooms: RoomService
    hasher: UsernameHasher
    directory: UserDirectory


async def _services(engine: AsyncEngine, settings: CryptoSettings) -> Services:
    sm = create_sessionmaker(engine)
    crypto = CryptoService.build(settings)
    await crypto.start(sm)  # the server signing key: created under A, read back under B
    hasher = UsernameHasher(crypto.fields)
    ai = AIService(AISettings(), sm, crypto.fields)
    return Services(
        sm,
        crypto,
        LogServerService(sm, crypto, MemoryState("t:"), LogServerSettings()),
        ai,
        RoomService(RoomsSettings(), ai, sm),
        hasher,
        UserDirectory(
            sm, on_seen=ActivityRecorder(hasher, MemoryState("a:")), username_digest=hasher
        ),
    )


@dataclass
class Seeded:
    server_fingerprint: str
    armored: str
    room_id: int
    legacy_room_id: int | None


async def _populate(s: Services, *, legacy_room: bool) -> Seeded:
    for user_id, name in USERS.items():
        await s.directory.register(user_id, name)
    # A retired server key from an earlier version, which stored its passphrase (field-encrypted)
    # next to it; today's code never does, but such rows must rotate too.
    old = SequoiaEngine().generate_key("old server key", passphrase="old-pass")
    async with s.sm() as session:
        row = server_keys._new_row(
            fingerprint=old.info.fingerprint,
            public_key=old.info.armored,
            secret=old.secret_armored,
            passphrase="old-pass",
            store_passphrase=True,
            cipher=s.crypto.fields,
        )
        row.status = ServerKeyStatus.RETIRED
        session.add(row)
        await session.commit()
    armored = str(SequoiaEngine().generate_key("Haruka <haruka@example.org>").info.armored)
    info = SequoiaEngine().inspect_public_key(armored)
    async with s.sm() as session:
        server = await s.logs.bind(session, 1001, LOG_CHAT, "Haruka's log")
        await s.logs.set_key(session, server, info)
        await session.commit()
    for n in range(3):
        assert await s.logs.record(1001, RecordKind.SYSTEM, {"n": n}) is RecordResult.QUEUED
    group = s.ai.contexts.scope(GROUP_CHAT, 7, private=False)
    async with s.sm() as session:
        await s.ai.keys.put(session, 1001, ProviderName.OPENAI, OWN_KEY)
        assert await s.ai.preferences.set_persona(session, 1001, personas.CUSTOM, PERSONA)
        await s.ai.contexts.add_exchange(session, 1001, PRIVATE, "x1", ("q1", 2), ("a1", 2))
        await s.ai.contexts.add_exchange(session, 1001, PRIVATE, "x2", ("q2", 2), ("a2", 2))
        turns = await s.ai.contexts.turns(session, 1001, PRIVATE)
        await s.ai.contexts.save_summary(session, 1001, PRIVATE, "they said hi", 3, turns, None)
        await s.ai.contexts.add_exchange(session, 1002, group, "g1", ("group q", 2), ("group a", 2))
        await session.commit()
    async with s.sm() as session:
        room = await s.rooms.set_up(session, ROOM_CHAT, 1002, [1003])
        assert room is not None
        scope = s.rooms.context.scope(ROOM_CHAT, None)
        await s.rooms.context.add_exchange(
            session, room.id, scope, "r1", 1003, "Aoi", ("room q", 2), ("room a", 2)
        )
        legacy_id = None
        if legacy_room:
            # What a room made before rooms.chat_enc existed looks like: only the hash.
            legacy = Room(chat_key=s.rooms.chat_key(LEGACY_CHAT), master_id=1003)
            session.add(legacy)
            await session.flush()
            legacy_id = legacy.id
        await session.commit()
        room_id = room.id
    async with s.sm() as session:
        await concierge_desk.link(session, s.crypto.fields, DESK_CHAT)
        persona = ConciergePersona(name="Mika", bio="bio", attributes="", price=1)
        session.add(persona)
        await session.flush()
        chat = await concierge_sessions.create(session, ConciergeSettings(), 1001, persona)
        concierge_sessions.set_name(s.crypto.fields, chat, "Haru")
        await concierge_sessions.add_relay(
            session,
            s.crypto.fields,
            ConciergeSettings(),
            chat,
            RelayDirection.USER,
            1,
            {"kind": "text", "text": "hello Mika"},
        )
        await session.commit()
    return Seeded(s.crypto.server_key.fingerprint, armored, room_id, legacy_id)


async def _tokens(engine: AsyncEngine) -> dict[str, list[str]]:
    """Every field-encryption token in the database, by column: a scan of every text column of
    every table, declared or not."""
    found: dict[str, list[str]] = {}
    async with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for column in table.columns:
                if not isinstance(column.type, String | Text):
                    continue
                values = await conn.scalars(select(column).where(column.like("f1.%")))
                tokens = [str(v) for v in values]
                if tokens:
                    found[f"{table.name}.{column.name}"] = tokens
    return found


async def _check_everything_reads(s: Services, seeded: Seeded) -> None:
    """With key A gone: every stored value opens, every look-up finds its row."""
    assert s.crypto.fields.key_ids == [key_id_of(KEY_B)]
    assert s.crypto.server_key.fingerprint == seeded.server_fingerprint  # not a new one
    async with s.sm() as session:
        retired = await session.scalar(
            select(ServerKey).where(ServerKey.status == ServerKeyStatus.RETIRED)
        )
        assert retired is not None
        assert retired.passphrase is not None
        opened = s.crypto.fields.decrypt_str(
            server_keys.PASSPHRASE_PURPOSE, retired.passphrase, row_id=retired.fingerprint
        )
        assert opened == "old-pass"
        server = await s.logs.by_chat(session, LOG_CHAT)
        assert server is not None
        assert server.user_id == 1001
        assert s.logs.chat_of(server) == (LOG_CHAT, "Haruka's log")
        assert s.logs.public_key_of(server) == seeded.armored
        rows = (await session.scalars(select(OutboxRecord).order_by(OutboxRecord.seq))).all()
        assert [s.logs.open_body(r.user_id, r.seq, str(r.body_enc))["n"] for r in rows] == [0, 1, 2]

        assert await s.ai.keys.get(session, 1001, ProviderName.OPENAI) == OWN_KEY
        pref = await session.get(AIPreference, 1001)
        assert PERSONA in s.ai.preferences.system_prompt(pref, 1001)
        turns = await s.ai.contexts.turns(session, 1001, PRIVATE)
        assert [t.text for t in turns] == ["q1", "a1", "q2", "a2"]
        summary = await s.ai.contexts.summary(session, 1001, PRIVATE)
        assert summary is not None
        assert summary.text == "they said hi"

        room = await s.rooms.find(session, ROOM_CHAT)
        assert room is not None
        assert room.id == seeded.room_id
        views = await s.rooms.context.exchange(session, room.id, "r1")
        assert [(v.name, v.text) for v in views] == [("Aoi", "room q"), ("", "room a")]
        if seeded.legacy_room_id is not None:
            legacy = await s.rooms.find(session, LEGACY_CHAT)
            assert legacy is not None
            assert legacy.id == seeded.legacy_room_id

        assert await concierge_desk.linked_chat(session, s.crypto.fields) == DESK_CHAT
        assert await concierge_desk.is_desk(session, s.crypto.fields, DESK_CHAT)
        chat = await concierge_sessions.current(session, 1001)
        assert chat is not None
        assert concierge_sessions.name_of(s.crypto.fields, chat) == "Haru"
        relay = await concierge_sessions.find_relay(session, chat.id, RelayDirection.USER, 1)
        assert relay is not None
        assert concierge_sessions.unseal(s.crypto.fields, relay)["text"] == "hello Mika"
        await session.rollback()


def _count(report_columns: list[ColumnCount], name: str) -> ColumnCount:
    return next(c for c in report_columns if c.name == name)


async def test_rotation_on_the_real_models_then_the_old_key_is_removed(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    under_a = await _services(engine, _crypto(tmp_path, KEY_A))
    seeded = await _populate(under_a, legacy_room=True)
    before = await _tokens(engine)
    # Every encrypted column of the models holds data here, and nothing undeclared does.
    declared = {c.name for c in registry(Base.metadata) if isinstance(c.spec, Encrypted)}
    assert set(before) == declared
    with pytest.raises(FieldDecryptError):  # the new key alone opens nothing yet
        FieldCipher([KEY_B]).decrypt("ai-key", before["ai_keys.ciphertext"][0], row_id="x")

    # The operator: new key current, old key readable; the bot restarts with both.
    window = _crypto(tmp_path, KEY_B, KEY_A)
    first = await rotate_master_key(
        create_sessionmaker(engine), Base.metadata, FieldCipher.from_settings(window), batch_size=2
    )
    assert first.old_key_ids == [key_id_of(KEY_A)]
    assert _count(first.columns, "ai_turns.content").rewritten == 6  # 4 private + 2 group
    assert _count(first.columns, "log_outbox.body_enc").rewritten == 3
    assert _count(first.columns, "log_servers.chat_hash").rewritten == 1
    assert _count(first.columns, "rooms.chat_key").rewritten == 1
    # The legacy room's hash cannot be recomputed (its chat id is not stored): not done yet.
    assert _count(first.columns, "rooms.chat_key").unreadable == 1
    assert first.old_key_removable_after is None

    during = await _services(engine, window)
    async with during.sm() as session:
        # Look-ups whose hash is not recomputed match under every known key meanwhile.
        group = during.ai.contexts.scope(GROUP_CHAT, 7, private=False)
        assert [t.text for t in await during.ai.contexts.turns(session, 1002, group)] == [
            "group q",
            "group a",
        ]
        scope = during.rooms.context.scope(ROOM_CHAT, None)
        assert len(await during.rooms.context.turns(session, seeded.room_id, scope)) == 2
        # The legacy room is used: found through the old hash, it gets its encrypted chat id.
        assert await during.rooms.find(session, LEGACY_CHAT) is not None
        user = await find_user(session, "@Haruka_Example", during.hasher.candidates)
        assert user.id == 1001
        # The conversation goes on under the new key.
        await during.ai.contexts.add_exchange(session, 1002, group, "g2", ("later q", 2), ("a", 2))
        await session.commit()
    await during.directory.seen(1003, USERS[1003])  # aoi writes: her @username hash is rewritten

    second = await rotate_master_key(
        during.sm, Base.metadata, FieldCipher.from_settings(window), batch_size=2
    )
    assert second.complete
    assert second.rewritten == 0
    removable = second.old_key_removable_after
    assert removable is not None
    pending = {p.name: p for p in second.pending}
    assert {"ai_turns.scope", "ai_summaries.scope", "room_turns.scope"} <= set(pending)
    assert pending["ai_turns.scope"].rows == 4  # the group's turns (private is no hash)
    assert removable == max(p.until for p in pending.values() if p.until is not None)
    async with engine.connect() as conn:
        latest = await conn.scalar(select(func.max(AITurn.expires_at)))
    assert isinstance(latest, datetime)
    assert removable >= latest  # every 24-hour row hashed under A is purged by then

    # Key A is removed.
    after = await _services(engine, _crypto(tmp_path, KEY_B))
    await _check_everything_reads(after, seeded)
    current = f"f1.{key_id_of(KEY_B)}."
    assert all(t.startswith(current) for ts in (await _tokens(engine)).values() for t in ts)
    async with after.sm() as session:
        group = after.ai.contexts.scope(GROUP_CHAT, 7, private=False)
        later = [t.text for t in await after.ai.contexts.turns(session, 1002, group)]
        assert later == ["later q", "a"]  # written under B; the A-hashed ones expire by then
        assert (await find_user(session, "@aoi_s", after.hasher.candidates)).id == 1003
        with pytest.raises(LookupFailed):  # not seen since: found by id until he writes again
            await find_user(session, "@ren_tanaka", after.hasher.candidates)
        assert (await find_user(session, "1002", after.hasher.candidates)).id == 1002
        await session.rollback()


async def test_a_rotation_killed_midway_is_finished_by_a_rerun(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    seeded = await _populate(await _services(engine, _crypto(tmp_path, KEY_A)), legacy_room=False)
    total = sum(len(v) for v in (await _tokens(engine)).values())
    cipher = FieldCipher.from_settings(_crypto(tmp_path, KEY_B, KEY_A))
    sm = create_sessionmaker(engine)
    batches = 0

    def killed(count: ColumnCount) -> None:
        nonlocal batches
        batches += 1
        if batches == 4:
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        await rotate_master_key(sm, Base.metadata, cipher, batch_size=1, progress=killed)
    tokens = [t for ts in (await _tokens(engine)).values() for t in ts]
    moved = sum(t.startswith(f"f1.{key_id_of(KEY_B)}.") for t in tokens)
    assert 0 < moved < total  # committed batches stay rotated, the rest is still under A

    rerun = await rotate_master_key(sm, Base.metadata, cipher, batch_size=1)
    assert rerun.complete
    aes = sum(c.rewritten for c in rerun.columns if c.kind == "aes-gcm")
    assert aes == total - moved  # the re-run did only what was left
    assert rerun.old_key_removable_after is not None
    again = await rotate_master_key(sm, Base.metadata, cipher, batch_size=7)
    assert again.rewritten == 0  # idempotent

    await _check_everything_reads(await _services(engine, _crypto(tmp_path, KEY_B)), seeded)


async def test_the_command_reports_and_says_when_the_old_key_may_go(
    engine: AsyncEngine, tmp_path: Path, make_settings: Any
) -> None:
    await _populate(await _services(engine, _crypto(tmp_path, KEY_A)), legacy_room=True)
    settings: Settings = make_settings(crypto=_crypto(tmp_path, KEY_B, KEY_A))
    out, err = io.StringIO(), io.StringIO()
    assert await rotate.run(settings, batch_size=3, out=out, err=err) == rotate.EXIT_NOT_DONE
    report = out.getvalue()
    assert "ai_keys.ciphertext" in report
    assert "NOT done: keep the old master key." in report
    assert "1 values open under no known key" in report
    for secret in (OWN_KEY, PERSONA, "Haruka", str(LOG_CHAT)):  # counts and names, nothing else
        assert secret not in report + err.getvalue()

    async with create_sessionmaker(engine)() as session:  # the legacy room is used once
        window = await _services(engine, settings.crypto)
        assert await window.rooms.find(session, LEGACY_CHAT) is not None
        await session.commit()
    out = io.StringIO()
    assert await rotate.run(settings, out=out, err=io.StringIO()) == rotate.EXIT_DONE
    assert "the old master key may be removed after" in out.getvalue()


async def test_the_command_refuses_without_a_master_key(tmp_path: Path, make_settings: Any) -> None:
    settings: Settings = make_settings(
        crypto=CryptoSettings(master_key_file=tmp_path / "missing.key")
    )
    err = io.StringIO()
    assert await rotate.run(settings, out=io.StringIO(), err=err) == rotate.EXIT_CONFIG
    assert "no master key" in err.getvalue()
    assert not (tmp_path / "missing.key").exists()  # never generates one here


async def test_a_value_the_bot_changes_during_the_rotation_is_not_overwritten(
    pg_url: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    # PostgreSQL: two writers at once (SQLite takes its write lock for the whole transaction).
    await _populate(await _services(engine, _crypto(tmp_path, KEY_A)), legacy_room=False)
    window = _crypto(tmp_path, KEY_B, KEY_A)
    cipher = FieldCipher.from_settings(window)
    bot_side = create_sessionmaker(engine)
    replaced = "sk-test-replaced-while-rotating-0123456789"
    raced = False

    class RacingSession(AsyncSession):
        """Between the rotation's read of ai_keys and its write, the user sends a new key
        (the bot's own transaction, committed)."""

        async def execute(self, statement: Any, *args: Any, **kwargs: Any) -> Any:
            nonlocal raced
            if (
                isinstance(statement, Update)
                and isinstance(statement.table, TableClause)
                and statement.table.name == "ai_keys"
                and not raced
            ):
                raced = True
                async with bot_side() as other:
                    await KeyStore(cipher).put(other, 1001, ProviderName.OPENAI, replaced)
                    await other.commit()
            return await super().execute(statement, *args, **kwargs)

    racing: async_sessionmaker[AsyncSession] = async_sessionmaker(
        engine, class_=RacingSession, expire_on_commit=False
    )
    report = await rotate_master_key(racing, Base.metadata, cipher, batch_size=5)
    assert raced
    assert _count(report.columns, "ai_keys.ciphertext").raced == 1
    assert not report.complete  # says to run again
    assert report.old_key_removable_after is None
    again = await rotate_master_key(bot_side, Base.metadata, cipher)
    assert again.complete
    after = await _services(engine, _crypto(tmp_path, KEY_B))
    async with after.sm() as session:
        assert await after.ai.keys.get(session, 1001, ProviderName.OPENAI) == replaced
        await session.rollback()


async def test_who_added_the_bot_is_found_under_the_old_key_meanwhile(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    kv = MemoryState("t:")
    before = await _services(engine, _crypto(tmp_path, KEY_A))
    await kv.put("room:adder:" + before.rooms.chat_key(ROOM_CHAT), "1002", 3600)
    during = await _services(engine, _crypto(tmp_path, KEY_B, KEY_A))
    assert await adder_of(kv, during.rooms, ROOM_CHAT) == "1002"
    assert await adder_of(kv, during.rooms, LEGACY_CHAT) is None
