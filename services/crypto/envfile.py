"""Settings from an OpenPGP-encrypted env file (``.env.gpg``), decrypted in memory only.

The file is decrypted with a passphrase from ``LIBRAL_ENV_PASSPHRASE`` (``gpg --symmetric``) or
with a secret key from ``LIBRAL_ENV_KEY`` (armored key text, or a path to it; its passphrase in
``LIBRAL_ENV_KEY_PASSPHRASE``). The file is ``.env.gpg`` in the working directory, or the path in
``LIBRAL_ENV_FILE``. Precedence: real environment > ``.env.gpg`` > ``.env``.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from pathlib import Path

from dotenv import dotenv_values
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource

from services.crypto.port import DecryptError, DecryptErrorKind
from services.crypto.sequoia_engine import SequoiaEngine

DEFAULT_PATH = Path(".env.gpg")
FILE_VAR = "LIBRAL_ENV_FILE"
PASSPHRASE_VAR = "LIBRAL_ENV_PASSPHRASE"
KEY_VAR = "LIBRAL_ENV_KEY"
KEY_PASSPHRASE_VAR = "LIBRAL_ENV_KEY_PASSPHRASE"


class EnvFileError(Exception):
    """``.env.gpg`` cannot be used; the message is one line for the operator."""


class WrongPassphraseError(EnvFileError):
    """The passphrase (or key) does not decrypt ``.env.gpg``."""


def parse_env(text: str) -> dict[str, str]:
    """``KEY=value`` lines as python-dotenv reads them (comments, quotes, ``export``)."""
    return {k: v for k, v in dotenv_values(stream=io.StringIO(text)).items() if v is not None}


def decrypt_env_file(
    path: Path,
    *,
    passphrase: str | None = None,
    secret_key: str | None = None,
    key_passphrase: str | None = None,
) -> dict[str, str]:
    """Decrypt and parse ``path``. Raises :class:`EnvFileError` / :class:`WrongPassphraseError`."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise EnvFileError(f"cannot read {path}: {exc.strerror}") from None
    engine = SequoiaEngine()
    try:
        if secret_key is not None:
            plaintext = engine.decrypt_and_verify(data, secret_key, key_passphrase).plaintext
        elif passphrase is not None:
            plaintext = engine.decrypt_with_passphrase(data, passphrase)
        else:
            raise EnvFileError(f"{path} exists but neither {PASSPHRASE_VAR} nor {KEY_VAR} is set")
    except DecryptError as exc:
        if exc.kind in (DecryptErrorKind.BAD_PASSPHRASE, DecryptErrorKind.NO_SECRET_KEY):
            what = "key" if secret_key is not None else "passphrase"
            raise WrongPassphraseError(f"cannot decrypt {path}: wrong {what}") from None
        raise EnvFileError(f"cannot decrypt {path}: {exc.kind.value}") from None
    try:
        text = plaintext.decode("utf-8")
    except UnicodeDecodeError:
        raise EnvFileError(f"{path} does not contain UTF-8 text") from None
    return parse_env(text)


def load_env_gpg(environ: Mapping[str, str] | None = None) -> dict[str, str] | None:
    """The decrypted ``.env.gpg`` (``None`` when there is no such file)."""
    env = os.environ if environ is None else environ
    path = Path(env.get(FILE_VAR) or DEFAULT_PATH)
    if FILE_VAR not in env and not path.exists():
        return None
    key = env.get(KEY_VAR)
    if key is not None and "BEGIN PGP" not in key:
        try:
            key = Path(key).read_text(encoding="utf-8")
        except OSError as exc:
            raise EnvFileError(f"cannot read {KEY_VAR} file: {exc.strerror}") from None
    return decrypt_env_file(
        path,
        passphrase=env.get(PASSPHRASE_VAR),
        secret_key=key,
        key_passphrase=env.get(KEY_PASSPHRASE_VAR),
    )


class _MappingEnvSource(EnvSettingsSource):
    """Environment-style settings source over a given mapping (nested ``A__B`` keys work)."""

    def __init__(self, settings_cls: type[BaseSettings], values: Mapping[str, str]) -> None:
        self._values = {k.lower(): v for k, v in values.items()}
        super().__init__(settings_cls, case_sensitive=False)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return self._values


def encrypted_env_sources(
    settings_cls: type[BaseSettings], environ: Mapping[str, str] | None = None
) -> tuple[PydanticBaseSettingsSource, ...]:
    """A settings source for ``.env.gpg`` if present (for ``settings_customise_sources``)."""
    values = load_env_gpg(environ)
    if values is None:
        return ()
    return (_MappingEnvSource(settings_cls, values),)
