"""The OpenPGP port: what the rest of Libral may ask of an OpenPGP engine.

Two engines implement it: :mod:`services.crypto.sequoia_engine` (pysequoia, in process, the
default) and :mod:`services.crypto.gnupg_engine` (python-gnupg over the ``gpg`` binary, for
operators whose keys live in a GnuPG keyring, gpg-agent or a smartcard).

Everything crossing the port is plain data: armored strings, bytes and frozen dataclasses.
Failures the user can act on are raised as :class:`KeyImportError` / :class:`DecryptError`
carrying an error *kind* (an Enum); the bot layer maps kinds to Fluent keys.

Message format policy: the strongest the recipient's key advertises (RFC 9580 §5.13.5),
chosen by the engine itself, never by our code:

* a key whose features list SEIPDv2 (every v6 key, and v4 keys made by RFC 9580 software) →
  PKESKv6 + SEIPDv2 with the AEAD mode and cipher its preferences name (AES-256-OCB in practice);
* any other v4 key (GnuPG 2.2 / 2.4, Kleopatra, OpenKeychain) → PKESKv3 + SEIPDv1 with its
  preferred cipher, which they all read.

Messages are encrypted to every valid encryption subkey of the recipient's key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Protocol, runtime_checkable


class KeyVersion(IntEnum):
    """OpenPGP key packet version."""

    V4 = 4
    V6 = 6


class MessageFormat(StrEnum):
    """The encryption container a message for a given recipient uses."""

    SEIPD_V1 = "seipdv1"  # with MDC (RFC 4880 §5.13), what GnuPG 2.2 reads
    SEIPD_V2 = "seipdv2"  # AEAD (RFC 9580 §5.13.2)


class KeyErrorKind(StrEnum):
    """Why a key offered by a user (or an operator) was refused."""

    NOT_OPENPGP = "not-openpgp"
    SECRET_KEY = "secret-key"  # a secret key was sent by mistake: delete the message
    MULTIPLE_KEYS = "multiple-keys"
    EXPIRED = "expired"
    REVOKED = "revoked"
    NO_ENCRYPTION_SUBKEY = "no-encryption-subkey"
    NO_SIGNING_KEY = "no-signing-key"
    WEAK_ALGORITHM = "weak-algorithm"
    UNSUPPORTED = "unsupported"  # e.g. a v6 key given to the GnuPG 2.2 engine
    TOO_LARGE = "too-large"
    BAD_PASSPHRASE = "bad-passphrase"  # for secret keys the server must unlock


class KeyImportError(Exception):
    """A key was refused. ``kind`` says why; nothing secret is in the message."""

    def __init__(self, kind: KeyErrorKind, detail: str = "") -> None:
        super().__init__(f"{kind.value}: {detail}" if detail else kind.value)
        self.kind = kind
        self.detail = detail


class DecryptErrorKind(StrEnum):
    """Why a message could not be opened."""

    NOT_OPENPGP = "not-openpgp"
    NO_SECRET_KEY = "no-secret-key"  # not encrypted to the given key
    BAD_PASSPHRASE = "bad-passphrase"
    INTEGRITY = "integrity"  # modified ciphertext (MDC / AEAD tag failed)
    FAILED = "failed"


class DecryptError(Exception):
    """A message could not be decrypted."""

    def __init__(self, kind: DecryptErrorKind, detail: str = "") -> None:
        super().__init__(f"{kind.value}: {detail}" if detail else kind.value)
        self.kind = kind
        self.detail = detail


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """A checked public key (certificate), ready to encrypt to."""

    fingerprint: str  # upper-case hex, 40 (v4) or 64 (v6) characters
    version: KeyVersion
    algorithm: str  # primary key, e.g. "ed25519", "rsa3072"
    encryption_algorithm: str  # the encryption subkeys, e.g. "cv25519", "x25519", "rsa4096,cv25519"
    user_ids: tuple[str, ...]
    created: datetime
    expires: datetime | None
    armored: str  # the public certificate only, ASCII armored
    message_format: MessageFormat


@dataclass(frozen=True, slots=True)
class GeneratedKey:
    """A freshly generated key pair. ``secret_armored`` is protected with ``passphrase``
    (``None``: not protected; the caller keeps it encrypted at rest)."""

    info: KeyInfo
    secret_armored: str = field(repr=False)
    passphrase: str | None = field(repr=False)


@dataclass(frozen=True, slots=True)
class SigningKey:
    """The server's signing key as the engines need it.

    ``secret_armored`` is the passphrase-protected transferable secret key. The GnuPG engine also
    accepts ``secret_armored=None`` and then signs with the key of that fingerprint from its
    keyring (gpg-agent, smartcard).
    """

    fingerprint: str
    public_armored: str
    secret_armored: str | None = field(repr=False)
    passphrase: str | None = field(repr=False)


@dataclass(frozen=True, slots=True)
class Decrypted:
    """A decrypted message and who signed it (``None``: no valid signature by a known key)."""

    plaintext: bytes = field(repr=False)
    signer_fingerprint: str | None
    message_format: MessageFormat | None = None


@runtime_checkable
class OpenPGPEngine(Protocol):
    """An OpenPGP implementation. Both engines pass ``tests/unit/crypto/test_contract.py``."""

    @property
    def name(self) -> str:
        """``"sequoia"`` or ``"gnupg"``."""
        ...

    @property
    def supports_v6(self) -> bool:
        """Whether this engine reads and writes v6 keys and SEIPDv2 (GnuPG 2.2 does not)."""
        ...

    def generate_key(
        self, user_id: str, *, version: KeyVersion = KeyVersion.V4, passphrase: str | None = None
    ) -> GeneratedKey:
        """A new key pair: Ed25519 signing + X25519 encryption (Curve25519), protected with
        ``passphrase`` when one is given. Raises :class:`KeyImportError` (``UNSUPPORTED``) for
        a combination the engine cannot make."""
        ...

    def inspect_public_key(self, data: str | bytes, *, now: datetime | None = None) -> KeyInfo:
        """Parse and check a user's public key. Raises :class:`KeyImportError`."""
        ...

    def inspect_secret_key(self, data: str | bytes, passphrase: str | None) -> KeyInfo:
        """Parse a secret key (server key import), check the passphrase unlocks it, and return
        its public part. Raises :class:`KeyImportError`."""
        ...

    def sign_and_encrypt(self, plaintext: bytes, recipient: KeyInfo, signer: SigningKey) -> str:
        """Sign ``plaintext`` with ``signer`` then encrypt it to ``recipient`` (format by
        :attr:`KeyInfo.message_format`). Returns an armored ``PGP MESSAGE``."""
        ...

    def encrypt(self, plaintext: bytes, recipient: KeyInfo) -> str:
        """Encrypt without signing."""
        ...

    def decrypt_and_verify(
        self,
        message: str | bytes,
        secret_key: str,
        passphrase: str | None,
        verify_with: Sequence[str] = (),
    ) -> Decrypted:
        """Decrypt with an armored secret key; verify the signature against the armored
        certificates in ``verify_with``. Raises :class:`DecryptError`."""
        ...

    def sign_detached(self, data: bytes, signer: SigningKey) -> str:
        """An armored detached signature over ``data``."""
        ...

    def verify_detached(self, data: bytes, signature: str, certs: Sequence[str]) -> str | None:
        """The fingerprint of the primary key of whichever cert in ``certs`` made a valid
        signature over ``data``, or ``None``."""
        ...

    def sign_cleartext(self, text: bytes, signer: SigningKey) -> str:
        """A cleartext-signed block (``-----BEGIN PGP SIGNED MESSAGE-----``) over ``text``
        (UTF-8, one line or more, no trailing newline)."""
        ...

    def verify_cleartext(self, block: str | bytes, certs: Sequence[str]) -> Decrypted:
        """The text a cleartext-signed block carries and the primary fingerprint of the cert in
        ``certs`` that signed it (``None``: no valid signature; the text is then read from the
        block without any guarantee). Raises :class:`DecryptError` (``NOT_OPENPGP``) for
        anything that is not such a block."""
        ...

    def decrypt_with_passphrase(self, message: str | bytes, passphrase: str) -> bytes:
        """Decrypt a symmetrically (passphrase) encrypted message, e.g. ``.env.gpg``.
        Raises :class:`DecryptError` (``BAD_PASSPHRASE`` for a wrong passphrase)."""
        ...


def normalize_fingerprint(fpr: str) -> str:
    """Upper-case hex without spaces."""
    return "".join(fpr.split()).upper()


def format_fingerprint(fpr: str) -> str:
    """Fingerprint in groups of four for humans (``ABCD 1234 …``)."""
    f = normalize_fingerprint(fpr)
    return " ".join(f[i : i + 4] for i in range(0, len(f), 4))
