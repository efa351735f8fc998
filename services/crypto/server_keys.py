"""The server's OpenPGP signing key: created on first start or imported, stored encrypted at rest
(or left in a GnuPG keyring), rotated with the old keys kept for verification."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models.crypto import ServerKey, ServerKeyStatus
from services.crypto.config import CryptoSettings
from services.crypto.fields import FieldCipher
from services.crypto.gnupg_engine import GnupgEngine
from services.crypto.port import (
    KeyErrorKind,
    KeyImportError,
    KeyVersion,
    OpenPGPEngine,
    SigningKey,
    normalize_fingerprint,
)

log = logging.getLogger(__name__)

SECRET_PURPOSE = "server-key"
PASSPHRASE_PURPOSE = "server-key-passphrase"


@dataclass(frozen=True, slots=True)
class PublishedKey:
    """What ``/serverkey`` shows: public key, fingerprint, since when, and whether current."""

    fingerprint: str
    public_key: str
    created_at: datetime
    active: bool


def _operator_passphrase(settings: CryptoSettings) -> str | None:
    pw = settings.server_key_passphrase
    return pw.get_secret_value() if pw is not None else None


def _configured_secret(settings: CryptoSettings) -> str | None:
    if settings.server_key is not None:
        return settings.server_key.get_secret_value()
    if settings.server_key_file is not None:
        return settings.server_key_file.read_text(encoding="utf-8")
    return None


async def _active_rows(session: AsyncSession) -> list[ServerKey]:
    rows = await session.scalars(
        select(ServerKey).where(ServerKey.status == ServerKeyStatus.ACTIVE).order_by(ServerKey.id)
    )
    return list(rows)


def _retire(rows: list[ServerKey], keep: ServerKey | None) -> None:
    now = datetime.now(UTC)
    for row in rows:
        if row is not keep and row.status == ServerKeyStatus.ACTIVE:
            row.status = ServerKeyStatus.RETIRED
            row.retired_at = now


def _signing_key(row: ServerKey, cipher: FieldCipher, settings: CryptoSettings) -> SigningKey:
    secret = (
        cipher.decrypt_str(SECRET_PURPOSE, row.secret_key, row_id=row.fingerprint)
        if row.secret_key is not None
        else None
    )
    passphrase = (
        cipher.decrypt_str(PASSPHRASE_PURPOSE, row.passphrase, row_id=row.fingerprint)
        if row.passphrase is not None
        else _operator_passphrase(settings)
    )
    return SigningKey(
        fingerprint=row.fingerprint,
        public_armored=row.public_key,
        secret_armored=secret,
        passphrase=passphrase,
    )


def _new_row(
    *,
    fingerprint: str,
    public_key: str,
    secret: str | None,
    passphrase: str | None,
    store_passphrase: bool,
    cipher: FieldCipher,
) -> ServerKey:
    fpr = normalize_fingerprint(fingerprint)
    return ServerKey(
        fingerprint=fpr,
        public_key=public_key,
        secret_key=cipher.encrypt(SECRET_PURPOSE, secret, row_id=fpr) if secret else None,
        passphrase=(
            cipher.encrypt(PASSPHRASE_PURPOSE, passphrase, row_id=fpr)
            if store_passphrase and passphrase
            else None
        ),
        status=ServerKeyStatus.ACTIVE,
        created_at=datetime.now(UTC),
    )


async def get_or_create_server_key(
    session: AsyncSession,
    engine: OpenPGPEngine,
    cipher: FieldCipher,
    settings: CryptoSettings,
) -> SigningKey:
    """The active signing key; imported from settings, or generated on first start.

    Several active rows (two instances started at once) resolve to the oldest; the others are
    retired and keep verifying. The caller commits.
    """
    configured = _configured_secret(settings)
    if configured is not None:
        return await _import_configured(session, engine, cipher, settings, configured)
    if settings.server_key_fingerprint is not None:
        return await _keyring_key(session, engine, settings, settings.server_key_fingerprint)
    rows = await _active_rows(session)
    if rows:
        _retire(rows, rows[0])
        return _signing_key(rows[0], cipher, settings)
    return await _generate(session, engine, cipher, settings)


async def rotate_server_key(
    session: AsyncSession,
    engine: OpenPGPEngine,
    cipher: FieldCipher,
    settings: CryptoSettings,
) -> SigningKey:
    """A new generated signing key becomes active; the old ones are retired (still verify)."""
    return await _generate(session, engine, cipher, settings)


async def _generate(
    session: AsyncSession, engine: OpenPGPEngine, cipher: FieldCipher, settings: CryptoSettings
) -> SigningKey:
    # Without an operator passphrase the secret key is protected by field encryption alone (a
    # passphrase stored next to it under the same master key would add nothing). With one, the
    # key itself is protected and the passphrase never reaches the database.
    operator_pw = _operator_passphrase(settings)
    generated = engine.generate_key(
        settings.server_key_user_id, version=KeyVersion.V4, passphrase=operator_pw
    )
    row = _new_row(
        fingerprint=generated.info.fingerprint,
        public_key=generated.info.armored,
        secret=generated.secret_armored,
        passphrase=None,
        store_passphrase=False,
        cipher=cipher,
    )
    _retire(await _active_rows(session), None)
    session.add(row)
    await session.flush()
    log.info("generated server signing key %s", row.fingerprint)
    return _signing_key(row, cipher, settings)


async def _import_configured(
    session: AsyncSession,
    engine: OpenPGPEngine,
    cipher: FieldCipher,
    settings: CryptoSettings,
    secret: str,
) -> SigningKey:
    passphrase = _operator_passphrase(settings)
    info = engine.inspect_secret_key(secret, passphrase)
    existing = await session.scalar(
        select(ServerKey).where(ServerKey.fingerprint == info.fingerprint)
    )
    if existing is None:
        existing = _new_row(
            fingerprint=info.fingerprint,
            public_key=info.armored,
            secret=secret,
            passphrase=passphrase,
            store_passphrase=False,
            cipher=cipher,
        )
        _retire(await _active_rows(session), None)
        session.add(existing)
        await session.flush()
        log.info("imported server signing key %s", info.fingerprint)
    elif existing.status != ServerKeyStatus.ACTIVE:
        _retire(await _active_rows(session), None)
        existing.status = ServerKeyStatus.ACTIVE
        existing.retired_at = None
    return SigningKey(
        fingerprint=info.fingerprint,
        public_armored=existing.public_key,
        secret_armored=secret,
        passphrase=passphrase,
    )


async def _keyring_key(
    session: AsyncSession, engine: OpenPGPEngine, settings: CryptoSettings, fingerprint: str
) -> SigningKey:
    if not isinstance(engine, GnupgEngine):
        raise KeyImportError(KeyErrorKind.UNSUPPORTED, "a keyring key needs CRYPTO__ENGINE=gnupg")
    fpr = normalize_fingerprint(fingerprint)
    public = engine.export_public_key(fpr)
    existing = await session.scalar(select(ServerKey).where(ServerKey.fingerprint == fpr))
    if existing is None:
        _retire(await _active_rows(session), None)
        session.add(
            ServerKey(
                fingerprint=fpr,
                public_key=public,
                status=ServerKeyStatus.ACTIVE,
                created_at=datetime.now(UTC),
            )
        )
        await session.flush()
    return SigningKey(
        fingerprint=fpr,
        public_armored=public,
        secret_armored=None,
        passphrase=_operator_passphrase(settings),
    )


async def published_keys(session: AsyncSession) -> list[PublishedKey]:
    """Every server key, active first, newest first."""
    rows = await session.scalars(select(ServerKey).order_by(ServerKey.id.desc()))
    keys = [
        PublishedKey(
            fingerprint=row.fingerprint,
            public_key=row.public_key,
            created_at=row.created_at,
            active=row.status == ServerKeyStatus.ACTIVE,
        )
        for row in rows
    ]
    return sorted(keys, key=lambda k: not k.active)


async def verification_certs(session: AsyncSession) -> list[str]:
    """Armored public keys of every server key ever used (for record verification)."""
    return [k.public_key for k in await published_keys(session)]
