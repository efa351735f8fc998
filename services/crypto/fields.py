"""Field encryption at rest: AES-256-GCM under per-purpose keys derived from one master key.

A token looks like ``f1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>``. The key id (8 hex
characters) names the master key, so old values stay readable after a rotation while
``services.crypto.rotation`` re-encrypts them (``python -m bot rotate-master-key``). The
associated data binds each value to its purpose (``"group-link"``, ``"ai-context"`` …) and, when
given, its row id: a value copied to another column or row does not decrypt. Any tampering
raises :class:`FieldDecryptError`.

:meth:`FieldCipher.lookup_hash` is a keyed hash (HMAC-SHA256, per purpose) for finding rows by an
encrypted value, e.g. a chat id. After a master key rotation use :meth:`FieldCipher.lookup_hashes`
(one hash per known master key) until the hash column has been recomputed, or its rows have
expired where the hashed value is not stored.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from services.crypto.config import CryptoSettings

log = logging.getLogger(__name__)

TOKEN_PREFIX = "f1"
_NONCE = 12


class FieldErrorKind(StrEnum):
    MALFORMED = "malformed"
    UNKNOWN_KEY = "unknown-key"
    TAMPERED = "tampered"  # or bound to another purpose / row


class FieldDecryptError(Exception):
    """A field value could not be decrypted. Never returns garbage instead."""

    def __init__(self, kind: FieldErrorKind) -> None:
        super().__init__(kind.value)
        self.kind = kind


class MasterKeyError(Exception):
    """The master key setting or file is unusable."""


@dataclass(frozen=True, slots=True)
class _MasterKey:
    key_id: str
    secret: bytes


def key_id_of(master: bytes) -> str:
    """8 hex characters naming a master key (not secret: an HMAC of a constant)."""
    return hmac.new(master, b"libral master key id", hashlib.sha256).hexdigest()[:8]


def _derive(master: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)


_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")
_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")


def _b64(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).translate(_TO_URLSAFE).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    raw = text.encode("ascii").translate(_FROM_URLSAFE)
    return binascii.a2b_base64(raw + b"=" * (-len(raw) % 4), strict_mode=True)


def decode_master_key(text: str) -> bytes:
    """Base64 (standard or URL-safe) of exactly 32 bytes."""
    try:
        raw = base64.b64decode(text.strip().replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MasterKeyError("the master key is not valid base64") from exc
    if len(raw) != 32:
        raise MasterKeyError("the master key must be 32 bytes (base64 of 32 random bytes)")
    return raw


def load_or_create_master_key_file(path: Path) -> bytes:
    """Read the master key file, or create it once with 32 random bytes (mode 0600)."""
    if path.exists():
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            log.warning("master key file %s is readable by others (mode %o)", path, mode)
        return decode_master_key(path.read_text(encoding="ascii"))
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(base64.b64encode(key).decode() + "\n")
    log.warning("generated a new field-encryption master key in %s: back it up", path)
    return key


def master_keys_from_settings(settings: CryptoSettings) -> list[bytes]:
    """Current master key first, then the old ones (for decryption during rotation)."""
    if settings.master_key is not None:
        current = decode_master_key(settings.master_key.get_secret_value())
    else:
        current = load_or_create_master_key_file(settings.master_key_file)
    keys = [current]
    if settings.old_master_keys is not None:
        for part in settings.old_master_keys.get_secret_value().split(","):
            if part.strip():
                keys.append(decode_master_key(part))
    return keys


class FieldCipher:
    """Encrypts and decrypts personal fields. Thread-safe; derived keys are cached."""

    def __init__(self, master_keys: Sequence[bytes]) -> None:
        if not master_keys:
            raise MasterKeyError("at least one master key is needed")
        for key in master_keys:
            if len(key) != 32:
                raise MasterKeyError("master keys must be 32 bytes")
        self._keys = [_MasterKey(key_id_of(k), bytes(k)) for k in master_keys]
        self._by_id = {k.key_id: k for k in self._keys}
        self._aead: dict[tuple[str, str], AESGCM] = {}
        self._mac: dict[tuple[str, str], bytes] = {}

    @classmethod
    def from_settings(cls, settings: CryptoSettings) -> FieldCipher:
        return cls(master_keys_from_settings(settings))

    @property
    def current_key_id(self) -> str:
        return self._keys[0].key_id

    @property
    def key_ids(self) -> list[str]:
        """Every known master key's id, current first."""
        return [k.key_id for k in self._keys]

    def _cipher(self, key_id: str, purpose: str) -> AESGCM:
        aead = self._aead.get((key_id, purpose))
        if aead is None:
            master = self._by_id[key_id].secret
            aead = AESGCM(_derive(master, b"libral field v1 " + purpose.encode()))
            self._aead[(key_id, purpose)] = aead
        return aead

    @staticmethod
    def _aad(purpose: str, key_id: str, row_id: str | int | None) -> bytes:
        row = "" if row_id is None else str(row_id)
        return f"{TOKEN_PREFIX}|{key_id}|{purpose}|{row}".encode()

    def encrypt(self, purpose: str, value: bytes | str, *, row_id: str | int | None = None) -> str:
        """Encrypt ``value`` for ``purpose`` (and ``row_id`` when the row id is known)."""
        if not purpose:
            raise ValueError("purpose must not be empty")
        data = value.encode() if isinstance(value, str) else value
        key_id = self.current_key_id
        nonce = os.urandom(_NONCE)
        ct = self._cipher(key_id, purpose).encrypt(nonce, data, self._aad(purpose, key_id, row_id))
        return f"{TOKEN_PREFIX}.{key_id}.{_b64(nonce + ct)}"

    def decrypt(self, purpose: str, token: str, *, row_id: str | int | None = None) -> bytes:
        """The plaintext, or :class:`FieldDecryptError`."""
        key_id, blob = self._split(token)
        if len(blob) < _NONCE + 16:
            raise FieldDecryptError(FieldErrorKind.MALFORMED)
        try:
            return self._cipher(key_id, purpose).decrypt(
                blob[:_NONCE], blob[_NONCE:], self._aad(purpose, key_id, row_id)
            )
        except InvalidTag as exc:
            raise FieldDecryptError(FieldErrorKind.TAMPERED) from exc

    def decrypt_str(self, purpose: str, token: str, *, row_id: str | int | None = None) -> str:
        try:
            return self.decrypt(purpose, token, row_id=row_id).decode()
        except UnicodeDecodeError as exc:  # pragma: no cover - authenticated, so ours
            raise FieldDecryptError(FieldErrorKind.MALFORMED) from exc

    def _split(self, token: str) -> tuple[str, bytes]:
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
            raise FieldDecryptError(FieldErrorKind.MALFORMED)
        key_id = parts[1]
        if key_id not in self._by_id:
            raise FieldDecryptError(FieldErrorKind.UNKNOWN_KEY)
        try:
            blob = _unb64(parts[2])
        except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
            raise FieldDecryptError(FieldErrorKind.MALFORMED) from exc
        return key_id, blob

    def key_id_of_token(self, token: str) -> str:
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
            raise FieldDecryptError(FieldErrorKind.MALFORMED)
        return parts[1]

    def needs_rotation(self, token: str) -> bool:
        return self.key_id_of_token(token) != self.current_key_id

    def reencrypt(self, purpose: str, token: str, *, row_id: str | int | None = None) -> str:
        """The same value under the current master key (unchanged if already current)."""
        if not self.needs_rotation(token):
            return token
        return self.encrypt(purpose, self.decrypt(purpose, token, row_id=row_id), row_id=row_id)

    # ---------------------------------------------------------------- keyed hashes

    def _mac_key(self, key_id: str, purpose: str) -> bytes:
        mac = self._mac.get((key_id, purpose))
        if mac is None:
            master = self._by_id[key_id].secret
            mac = _derive(master, b"libral lookup v1 " + purpose.encode())
            self._mac[(key_id, purpose)] = mac
        return mac

    def lookup_hash(self, purpose: str, value: bytes | str | int) -> str:
        """HMAC-SHA256 hex of ``value`` under the current master key, for look-ups."""
        return self._hash(self.current_key_id, purpose, value)

    def lookup_hashes(self, purpose: str, value: bytes | str | int) -> list[str]:
        """The hash under every known master key, current first (``WHERE h IN (...)``)."""
        return [self._hash(k.key_id, purpose, value) for k in self._keys]

    def _hash(self, key_id: str, purpose: str, value: bytes | str | int) -> str:
        data = value if isinstance(value, bytes) else str(value).encode()
        return hmac.new(self._mac_key(key_id, purpose), data, hashlib.sha256).hexdigest()
