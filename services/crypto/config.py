"""Settings section ``settings.crypto`` (environment ``CRYPTO__<FIELD>``)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr


class CryptoSettings(BaseModel):
    """OpenPGP engine, field-encryption master key and server signing key."""

    engine: Literal["sequoia", "gnupg"] = "sequoia"
    # base64 of 32 random bytes. Unset in the embedded default: generated once into
    # ``master_key_file`` (0600). Set it explicitly in production (and keep a backup).
    master_key: SecretStr | None = None
    master_key_file: Path = Path("data/master.key")
    # Older master keys (base64, comma separated) still accepted for decryption during rotation.
    old_master_keys: SecretStr | None = None
    # GnuPG engine: its own home directory (never the user's ~/.gnupg).
    gnupg_home: Path = Path("data/gnupg")
    gnupg_binary: str = "gpg"
    # Server signing key. Unset: generated on first start, stored encrypted in the database.
    # To import one, give the armored secret key (or a path to it) and its passphrase.
    server_key: SecretStr | None = None
    server_key_file: Path | None = None
    server_key_passphrase: SecretStr | None = None
    # GnuPG engine with a key that lives in the keyring / agent / smartcard: its fingerprint.
    server_key_fingerprint: str | None = None
    server_key_user_id: str = "Libral log server"
    # Largest armored public key a user may upload.
    max_key_bytes: int = Field(default=256 * 1024, ge=1024)
