"""The daily key check (services/logserver/keys.py) on a real database with a real expiring key
made by GnuPG: warned while it is about to expire, paused once it has, resumed by a new key."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.base import utcnow
from bot.db.engine import create_sessionmaker
from bot.db.models import User
from bot.db.models.logserver import LogServer, LogServerState
from bot.state import MemoryState
from services.crypto import KeyVersion
from services.crypto.config import CryptoSettings
from services.crypto.sequoia_engine import SequoiaEngine
from services.crypto.service import CryptoService
from services.logserver import LogServerService, LogServerSettings, RecordKind, RecordResult
from services.logserver.keys import KeyVerdict, check_keys

CHAT_ID = -1005550001111


def gpg(home: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["gpg", "--homedir", str(home), "--batch", "--yes", "--status-fd", "2", *args],
        capture_output=True,
        check=False,
        timeout=60,
    )


def expiring_key(tmp_path: Path, days: int) -> str:
    """An armored public key (ed25519 + cv25519) whose key and subkey expire in `days` days."""
    if shutil.which("gpg") is None:
        pytest.skip("gpg is not installed")
    home = tmp_path / "gnupg-user"
    home.mkdir(mode=0o700)
    made = gpg(
        home,
        "--passphrase",
        "",
        "--quick-gen-key",
        "E <e@example.org>",
        "ed25519",
        "sign",
        f"{days}d",
    )
    assert made.returncode == 0, made.stderr.decode(errors="replace")
    fpr = re.search(rb"KEY_CREATED \w ([0-9A-F]{40})", made.stderr)
    assert fpr is not None
    added = gpg(
        home,
        "--passphrase",
        "",
        "--quick-add-key",
        fpr.group(1).decode(),
        "cv25519",
        "encr",
        f"{days}d",
    )
    assert added.returncode == 0, added.stderr.decode(errors="replace")
    return gpg(home, "--armor", "--export", "e@example.org").stdout.decode()


class Told:
    """The notifier port: what the job told whom."""

    def __init__(self) -> None:
        self.messages: list[tuple[int, str, dict[str, Any]]] = []

    async def __call__(self, user_id: int, key: str, **args: Any) -> bool:
        self.messages.append((user_id, key, args))
        return True


async def test_an_expiring_key_warns_an_expired_one_pauses_and_a_new_key_resumes(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    sessionmaker = create_sessionmaker(engine)
    crypto = CryptoService.build(
        CryptoSettings(master_key_file=tmp_path / "master.key", gnupg_home=tmp_path / "gnupg")
    )
    await crypto.start(sessionmaker)
    service = LogServerService(sessionmaker, crypto, MemoryState("k:"), LogServerSettings())
    armored = expiring_key(tmp_path, days=3)
    async with sessionmaker() as session:
        session.add(User(id=71))
        await session.flush()
        bound = await service.bind(session, 71, CHAT_ID, "t")
        await service.set_key(session, bound, crypto.engine.inspect_public_key(armored))
        await session.commit()
    told = Told()
    now = utcnow()

    assert await check_keys(service, told, now=now - timedelta(days=30)) == {}
    assert told.messages == []

    assert await check_keys(service, told, now=now + timedelta(days=1)) == {71: KeyVerdict.EXPIRING}
    assert told.messages == [(71, "logserver-key-expiring", {"days": 1})]
    assert await service.record(71, RecordKind.CHAT, {"n": 1}) is RecordResult.QUEUED

    assert (await check_keys(service, told, now=now + timedelta(days=4)))[71] in (
        KeyVerdict.EXPIRED,
        KeyVerdict.UNUSABLE,
    )
    assert told.messages[-1][1] in (
        "logserver-key-check-key-expired",
        "logserver-key-check-key-unusable",
    )
    async with sessionmaker() as session:
        server = await session.get(LogServer, 71)
        assert server is not None
        assert server.state is LogServerState.PAUSED
        assert server.disconnect_reason in ("key-expired", "key-unusable")
        # "Resume" does not resume with an unusable key.
        await service.set_paused(session, server, paused=False)
        assert server.state is LogServerState.PAUSED
        await session.commit()
    service.forget_state(71)
    assert await service.record(71, RecordKind.CHAT, {"n": 2}) is RecordResult.PAUSED
    # Told once, not at every check.
    count = len(told.messages)
    await check_keys(service, told, now=now + timedelta(days=5))
    assert len(told.messages) == count

    # A new key is expected without asking first, and resumes logging.
    new = SequoiaEngine().generate_key("New", version=KeyVersion.V4)
    async with sessionmaker() as session:
        server = await service.expecting_key(session, 71)
        assert server is not None
        await service.set_key(session, server, new.info)
        await session.commit()
    async with sessionmaker() as session:
        server = await session.get(LogServer, 71)
        assert server is not None
        assert server.state is LogServerState.ACTIVE
        assert server.disconnect_reason is None
    assert await service.record(71, RecordKind.CHAT, {"n": 3}) is RecordResult.QUEUED
