"""User keys: import with checks, or generate a key pair handed over once (never stored)."""

from __future__ import annotations

import secrets

from services.crypto.port import GeneratedKey, KeyInfo, KeyVersion, OpenPGPEngine

# No look-alikes (0/O, 1/l/I): the passphrase may be typed from a phone screen.
_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"


def new_passphrase(groups: int = 6, size: int = 5) -> str:
    """A random passphrase like ``k7m2q-…`` (6×5 characters from 31 ≈ 148 bits)."""
    return "-".join("".join(secrets.choice(_ALPHABET) for _ in range(size)) for _ in range(groups))


def generate_user_key(
    engine: OpenPGPEngine, user_id: str, *, version: KeyVersion = KeyVersion.V4
) -> GeneratedKey:
    """A new key pair for a user without one: v4 Curve25519 (GnuPG, Kleopatra, OpenKeychain
    read it) unless v6 is asked for. The secret key comes back armored and protected with a
    generated passphrase; send both to the user once and keep neither."""
    return engine.generate_key(user_id, version=version, passphrase=new_passphrase())


def import_user_key(engine: OpenPGPEngine, data: str | bytes) -> KeyInfo:
    """Check a key the user sent (text or file). Raises
    :class:`~services.crypto.port.KeyImportError`; on ``KeyErrorKind.SECRET_KEY`` delete the
    user's message."""
    return engine.inspect_public_key(data)
