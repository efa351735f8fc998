"""`.env.gpg`: decrypted in memory into settings; a wrong passphrase is one line and exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import Settings, SettingsError, load_settings
from services.crypto.envfile import (
    EnvFileError,
    WrongPassphraseError,
    decrypt_env_file,
    load_env_gpg,
    parse_env,
)
from services.crypto.port import GeneratedKey
from services.crypto.sequoia_engine import SequoiaEngine
from tests.crypto_support import PASSPHRASE, GpgKeys, needs_gpg

ROOT = Path(__file__).resolve().parents[3]
ENV_TEXT = b"""# production settings
BOT_TOKEN=123456:FROM-ENV-GPG
export LOG_LEVEL=WARNING
CRYPTO__ENGINE=gnupg
REDIS_PREFIX="quoted value:"
"""


@pytest.fixture
def env_gpg(tmp_path: Path, gpg_keys: GpgKeys) -> Path:
    encrypted = gpg_keys.home.run(
        "--passphrase", "env pass", "--symmetric", "--armor", "-o", "-", input=ENV_TEXT
    ).stdout
    path = tmp_path / ".env.gpg"
    path.write_bytes(encrypted)
    return path


def test_parse_env() -> None:
    assert parse_env(ENV_TEXT.decode()) == {
        "BOT_TOKEN": "123456:FROM-ENV-GPG",
        "LOG_LEVEL": "WARNING",
        "CRYPTO__ENGINE": "gnupg",
        "REDIS_PREFIX": "quoted value:",
    }


@needs_gpg
def test_decrypt_with_passphrase(env_gpg: Path) -> None:
    values = decrypt_env_file(env_gpg, passphrase="env pass")
    assert values["BOT_TOKEN"] == "123456:FROM-ENV-GPG"
    with pytest.raises(WrongPassphraseError):
        decrypt_env_file(env_gpg, passphrase="nope")
    with pytest.raises(EnvFileError):
        decrypt_env_file(env_gpg)


def test_decrypt_with_a_key(tmp_path: Path, user_v4: GeneratedKey) -> None:
    path = tmp_path / "prod.env.gpg"
    path.write_text(SequoiaEngine().encrypt(ENV_TEXT, user_v4.info))
    key_file = tmp_path / "operator.asc"
    key_file.write_text(user_v4.secret_armored)
    env = {
        "LIBRAL_ENV_FILE": str(path),
        "LIBRAL_ENV_KEY": str(key_file),
        "LIBRAL_ENV_KEY_PASSPHRASE": PASSPHRASE,
    }
    assert load_env_gpg(env) == parse_env(ENV_TEXT.decode())
    with pytest.raises(WrongPassphraseError):
        load_env_gpg({**env, "LIBRAL_ENV_KEY_PASSPHRASE": "bad"})


def test_no_file_means_no_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_env_gpg({}) is None


@needs_gpg
def test_settings_read_env_gpg_below_the_environment(
    env_gpg: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(env_gpg.parent)
    for name in ("BOT_TOKEN", "LOG_LEVEL", "CRYPTO__ENGINE", "REDIS_PREFIX", "LIBRAL_ENV_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LIBRAL_ENV_PASSPHRASE", "env pass")
    monkeypatch.setenv("LOG_LEVEL", "ERROR")  # the real environment wins
    settings = Settings(_env_file=None)
    assert settings.bot_token.get_secret_value() == "123456:FROM-ENV-GPG"
    assert settings.crypto.engine == "gnupg"
    assert settings.redis_prefix == "quoted value:"
    assert settings.log_level == "ERROR"

    monkeypatch.setenv("LIBRAL_ENV_PASSPHRASE", "wrong")
    with pytest.raises(SettingsError, match="wrong passphrase"):
        load_settings()


@needs_gpg
def test_wrong_passphrase_exits_2_with_one_line(env_gpg: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "LIBRAL_", "CRYPTO__"))}
    env.update(LIBRAL_ENV_PASSPHRASE="wrong", PYTHONPATH=str(ROOT))
    result = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=env_gpg.parent,
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1
    assert "wrong passphrase" in lines[0]
    assert "FROM-ENV-GPG" not in result.stderr.decode()


def test_named_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(EnvFileError, match="cannot read"):
        load_env_gpg(
            {"LIBRAL_ENV_FILE": str(tmp_path / "absent.gpg"), "LIBRAL_ENV_PASSPHRASE": "x"}
        )
