"""The user's public key is field-encrypted in log_servers.public_key (no user id in clear), and
the 0008_keyenc migration encrypts keys stored in clear by earlier versions (and back)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db import migrate
from bot.db.engine import create_sessionmaker
from bot.db.models import User
from bot.state import MemoryState
from services.crypto.config import CryptoSettings
from services.crypto.fields import FieldDecryptError
from services.crypto.sequoia_engine import SequoiaEngine
from services.crypto.service import CryptoService
from services.crypto.user_key_store import open_user_key
from services.logserver import LogServerService, LogServerSettings

CHAT_ID = -1009876543211
USER_ID_TEXT = "Haruka Example <haruka@example.org>"


async def _service(engine: AsyncEngine, tmp_path: Path) -> LogServerService:
    sessionmaker = create_sessionmaker(engine)
    crypto = CryptoService.build(
        CryptoSettings(master_key_file=tmp_path / "master.key", gnupg_home=tmp_path / "gnupg")
    )
    await crypto.start(sessionmaker)
    return LogServerService(sessionmaker, crypto, MemoryState("t:"), LogServerSettings())


async def _stored(engine: AsyncEngine, user_id: int) -> str:
    async with engine.connect() as conn:
        value = await conn.scalar(
            text("SELECT public_key FROM log_servers WHERE user_id = :u"), {"u": user_id}
        )
    assert isinstance(value, str)
    return value


async def test_public_key_is_encrypted_at_rest_and_bound_to_its_user(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    service = await _service(engine, tmp_path)
    info = SequoiaEngine().inspect_public_key(
        str(SequoiaEngine().generate_key(USER_ID_TEXT).info.armored)
    )
    async with service.sessionmaker() as session:
        session.add_all([User(id=42), User(id=43)])
        await session.flush()
        server = await service.bind(session, 42, CHAT_ID, "title")
        await service.set_key(session, server, info)
        await session.commit()
        assert service.public_key_of(server) == info.armored
    stored = await _stored(engine, 42)
    assert "BEGIN PGP" not in stored  # (a bare "PGP" may occur in base64)
    assert "haruka" not in stored.lower()
    assert stored.startswith("f1.")
    with pytest.raises(FieldDecryptError):  # copied to another user's row: refused
        open_user_key(service.fields, 43, stored)


async def test_migration_encrypts_keys_stored_in_clear(engine: AsyncEngine, tmp_path: Path) -> None:
    service = await _service(engine, tmp_path)
    armored = SequoiaEngine().generate_key(USER_ID_TEXT).info.armored
    async with service.sessionmaker() as session:
        session.add(User(id=44))
        await session.flush()
        await service.bind(session, 44, CHAT_ID - 1, "title")
        await session.commit()
    await migrate.downgrade(engine, "keyenc@-1")
    async with engine.begin() as conn:  # what an earlier version wrote
        await conn.execute(
            text("UPDATE log_servers SET public_key = :k WHERE user_id = 44"), {"k": armored}
        )
    attributes = {"field_cipher": service.fields}
    await migrate.upgrade(engine, attributes=attributes)
    stored = await _stored(engine, 44)
    assert "haruka" not in stored.lower()
    assert open_user_key(service.fields, 44, stored) == armored
    await migrate.downgrade(engine, "keyenc@-1", attributes=attributes)
    assert await _stored(engine, 44) == armored
    await migrate.upgrade(engine, attributes=attributes)
    assert open_user_key(service.fields, 44, await _stored(engine, 44)) == armored
