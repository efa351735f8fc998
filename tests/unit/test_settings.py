from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]


def run_bot(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "WEBHOOK_"))}
    return subprocess.run(
        [sys.executable, "-m", "bot"],
        env={**clean, **env},
        cwd=tmp_path,  # no .env there
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_missing_token_is_one_clear_line_and_exit_code_2(tmp_path: Path) -> None:
    result = run_bot({}, tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "BOT_TOKEN" in lines[0]
    assert "Traceback" not in result.stderr


def test_malformed_setting_names_it(tmp_path: Path) -> None:
    result = run_bot({"BOT_TOKEN": "123:abc", "HTTP_PORT": "not-a-port"}, tmp_path)
    assert result.returncode == 2
    assert "HTTP_PORT" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_webhook_requires_a_secret() -> None:
    with pytest.raises(SettingsError, match="WEBHOOK_SECRET"):
        load_settings(_env_file=None, bot_token="1:x", webhook_url="https://example.org/hook")


def test_defaults_are_the_embedded_shape() -> None:
    settings = load_settings(_env_file=None, bot_token="1:x")
    assert settings.database_url.startswith("sqlite+aiosqlite:///")
    assert settings.redis_url is None
    assert settings.default_locale == "ja"
    assert not settings.use_webhook


def test_admin_ids_from_a_comma_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_IDS", "1, 22,333")
    settings = load_settings(_env_file=None, bot_token="1:x")
    assert settings.admin_ids == frozenset({1, 22, 333})


def test_plain_postgres_url_gets_the_async_driver() -> None:
    settings = load_settings(_env_file=None, bot_token="1:x", database_url="postgresql://u@h/db")
    assert settings.database_url == "postgresql+asyncpg://u@h/db"


def test_empty_variables_count_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBHOOK_URL", "")
    monkeypatch.setenv("REDIS_URL", "")
    settings = load_settings(_env_file=None, bot_token="1:x")
    assert not settings.use_webhook
    assert settings.redis_url is None
