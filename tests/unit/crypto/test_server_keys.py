"""The server signing key: created once, stored encrypted, imported, rotated, still verifying."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models.crypto import ServerKey, ServerKeyStatus
from services.crypto import server_keys
from services.crypto.config import CryptoSettings
from services.crypto.fields import FieldCipher
from services.crypto.gnupg_engine import GnupgEngine
from services.crypto.port import GeneratedKey, KeyErrorKind, KeyImportError, OpenPGPEngine
from services.crypto.records import GENESIS_DIGEST, ContextLock, LogRecord, RecordContext
from services.crypto.sequoia_engine import SequoiaEngine
from tests.crypto_support import PASSPHRASE, GpgHome, GpgKeys

CIPHER = FieldCipher([bytes(32)])
SETTINGS = CryptoSettings(master_key=base64.b64encode(bytes(32)).decode())


async def test_created_once_and_stored_encrypted(
    session: AsyncSession, any_engine: OpenPGPEngine
) -> None:
    first = await server_keys.get_or_create_server_key(session, any_engine, CIPHER, SETTINGS)
    again = await server_keys.get_or_create_server_key(session, any_engine, CIPHER, SETTINGS)
    assert again.fingerprint == first.fingerprint
    row = await session.scalar(select(ServerKey))
    assert row is not None
    assert row.secret_key is not None
    assert "PRIVATE KEY" not in row.secret_key
    assert row.secret_key.startswith("f1.")
    # no passphrase stored next to it under the same master key: field encryption protects it
    assert row.passphrase is None
    assert first.passphrase is None
    assert any_engine.inspect_secret_key(first.secret_armored or "", first.passphrase).fingerprint
    published = await server_keys.published_keys(session)
    assert [k.fingerprint for k in published] == [first.fingerprint]
    assert "PUBLIC KEY BLOCK" in published[0].public_key


async def test_generated_with_the_operators_passphrase(
    session: AsyncSession, any_engine: OpenPGPEngine
) -> None:
    settings = SETTINGS.model_copy(update={"server_key_passphrase": SecretStr("op secret")})
    key = await server_keys.get_or_create_server_key(session, any_engine, CIPHER, settings)
    row = await session.scalar(select(ServerKey))
    assert row is not None
    assert row.passphrase is None  # the operator keeps it
    assert key.passphrase == "op secret"
    with pytest.raises(KeyImportError) as err:
        any_engine.inspect_secret_key(key.secret_armored or "", "not it")
    assert err.value.kind == KeyErrorKind.BAD_PASSPHRASE
    assert any_engine.inspect_secret_key(key.secret_armored or "", "op secret").fingerprint


async def test_rotation_keeps_old_keys_for_verification(
    session: AsyncSession, any_engine: OpenPGPEngine, user_v4: GeneratedKey
) -> None:
    old = await server_keys.get_or_create_server_key(session, any_engine, CIPHER, SETTINGS)
    sealed = ContextLock(any_engine, old).seal_record(
        LogRecord("system", 1, GENESIS_DIGEST, {"event": "setup"}),
        user_v4.info.armored,
        RecordContext(-100, 4),
    )
    new = await server_keys.rotate_server_key(session, any_engine, CIPHER, SETTINGS)
    assert new.fingerprint != old.fingerprint
    again = await server_keys.get_or_create_server_key(session, any_engine, CIPHER, SETTINGS)
    assert again.fingerprint == new.fingerprint
    published = await server_keys.published_keys(session)
    assert [(k.fingerprint, k.active) for k in published] == [
        (new.fingerprint, True),
        (old.fingerprint, False),
    ]
    certs = await server_keys.verification_certs(session)
    opened = ContextLock(any_engine, new, certs).open_record(
        sealed.armored, user_v4.secret_armored, PASSPHRASE
    )
    assert opened.ok
    assert opened.signer_fingerprint == old.fingerprint


async def test_two_instances_resolve_to_the_oldest_key(
    session: AsyncSession, any_engine: OpenPGPEngine
) -> None:
    a = await server_keys.rotate_server_key(session, any_engine, CIPHER, SETTINGS)
    b_gen = any_engine.generate_key("other instance", passphrase="pw")
    session.add(
        ServerKey(
            fingerprint=b_gen.info.fingerprint,
            public_key=b_gen.info.armored,
            secret_key=CIPHER.encrypt(
                server_keys.SECRET_PURPOSE, b_gen.secret_armored, row_id=b_gen.info.fingerprint
            ),
            passphrase=CIPHER.encrypt(
                server_keys.PASSPHRASE_PURPOSE, "pw", row_id=b_gen.info.fingerprint
            ),
            status=ServerKeyStatus.ACTIVE,
        )
    )
    await session.flush()
    chosen = await server_keys.get_or_create_server_key(session, any_engine, CIPHER, SETTINGS)
    assert chosen.fingerprint == a.fingerprint
    statuses = dict((await session.execute(select(ServerKey.fingerprint, ServerKey.status))).all())
    assert statuses[b_gen.info.fingerprint] == ServerKeyStatus.RETIRED


async def test_import_from_settings(
    session: AsyncSession, any_engine: OpenPGPEngine, user_v4: GeneratedKey
) -> None:
    settings = SETTINGS.model_copy(
        update={
            "server_key": SecretStr(user_v4.secret_armored),
            "server_key_passphrase": SecretStr(PASSPHRASE),
        }
    )
    key = await server_keys.get_or_create_server_key(session, any_engine, CIPHER, settings)
    assert key.fingerprint == user_v4.info.fingerprint
    row = await session.scalar(select(ServerKey))
    assert row is not None
    assert row.passphrase is None  # the operator keeps the passphrase, not the database
    bad = settings.model_copy(update={"server_key_passphrase": SecretStr("wrong")})
    with pytest.raises(KeyImportError) as err:
        await server_keys.get_or_create_server_key(session, any_engine, CIPHER, bad)
    assert err.value.kind == KeyErrorKind.BAD_PASSPHRASE


async def test_keyring_key_with_the_gnupg_engine(
    session: AsyncSession, gpg_keys: GpgKeys, user_v4: GeneratedKey, tmp_path: Path
) -> None:
    """An operator's key that lives in the GnuPG keyring: only its public part is stored."""
    # short: gpg-agent's sockets live in the home, and a Unix socket path holds at most 107
    # bytes (a pytest-xdist worker's tmp_path is ten characters longer)
    home = GpgHome(tmp_path / "op")
    home.path.mkdir(mode=0o700)
    (home.path / "gpg-agent.conf").write_text("s2k-count 1048576\n")
    home.run("--passphrase", PASSPHRASE, "--import", input=gpg_keys.user_secret.encode())
    engine = GnupgEngine(home.path)
    try:
        settings = SETTINGS.model_copy(
            update={
                "engine": "gnupg",
                "server_key_fingerprint": gpg_keys.user_fpr,
                "server_key_passphrase": SecretStr(PASSPHRASE),
            }
        )
        key = await server_keys.get_or_create_server_key(session, engine, CIPHER, settings)
        assert key.fingerprint == gpg_keys.user_fpr
        assert key.secret_armored is None
        row = await session.scalar(select(ServerKey))
        assert row is not None
        assert row.secret_key is None
        sealed = ContextLock(engine, key).seal_record(
            LogRecord("system", 1, GENESIS_DIGEST, {"event": "hello"}),
            user_v4.info.armored,
            RecordContext(-100, 2),
        )
        opened = ContextLock(SequoiaEngine(), None, [key.public_armored]).open_record(
            sealed.armored, user_v4.secret_armored, PASSPHRASE
        )
        assert opened.ok
        assert opened.signer_fingerprint == gpg_keys.user_fpr
        with pytest.raises(KeyImportError) as err:
            await server_keys.get_or_create_server_key(session, SequoiaEngine(), CIPHER, settings)
        assert err.value.kind == KeyErrorKind.UNSUPPORTED
    finally:
        engine.close()
        home.close()
