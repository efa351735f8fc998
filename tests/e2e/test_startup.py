"""Issue 18: `python -m bot` that cannot start says why in one line and exits 2, without a
traceback or "Unclosed client session": a wrong token (an unedited .env.example), an
unreachable Bot API, a busy HTTP port. Each runs the real entry point as a subprocess."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.emulator.server import BotAPIEmulator
from tests.harness import free_port

REPO = Path(__file__).resolve().parents[2]
# Long enough for a cold interpreter importing aiogram on a loaded machine.
TIMEOUT = 120.0


@dataclass
class Outcome:
    code: int
    stderr: str

    @property
    def lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]


async def run_bot_process(cwd: Path, **env: str) -> Outcome:
    """`python -m bot` in `cwd` (where a `.env` would be read), with only these settings."""
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    settings = {
        "PYTHONPATH": str(REPO),
        "DATABASE_URL": f"sqlite+aiosqlite:///{cwd / 'libral.db'}",
        "CRYPTO__MASTER_KEY_FILE": str(cwd / "master.key"),
        "CRYPTO__GNUPG_HOME": str(cwd / "gnupg"),
        "HTTP_HOST": "127.0.0.1",
        "HTTP_PORT": str(free_port()),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        cwd=cwd,
        env=base | settings | env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        pytest.fail("python -m bot did not exit")
    assert process.returncode is not None
    return Outcome(process.returncode, stderr.decode(errors="replace"))


def assert_one_clear_line(outcome: Outcome, *expected: str) -> str:
    assert outcome.code == 2, outcome.stderr
    assert "Traceback" not in outcome.stderr, outcome.stderr
    assert "Unclosed" not in outcome.stderr, outcome.stderr
    failures = [line for line in outcome.lines if line.startswith("libral: cannot start: ")]
    assert len(failures) == 1, outcome.stderr
    # It is the last thing printed, so the operator sees it without scrolling.
    assert outcome.lines[-1] == failures[0]
    for text in expected:
        assert text in failures[0], failures[0]
    return failures[0]


@pytest.fixture
def held_port() -> Iterator[int]:
    """A port this test listens on, so the bot finds it busy."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


async def test_an_unedited_env_example_gets_one_line_about_the_token(
    emulator: BotAPIEmulator, tmp_path: Path
) -> None:
    shutil.copy(REPO / ".env.example", tmp_path / ".env")
    outcome = await run_bot_process(tmp_path, TELEGRAM_API_URL=emulator.base_url)
    line = assert_one_clear_line(outcome, "BOT_TOKEN", "Unauthorized", "@BotFather")
    assert "123456:ABC" not in line  # the token itself is never printed


async def test_an_unreachable_bot_api_gets_one_line(
    emulator: BotAPIEmulator, tmp_path: Path
) -> None:
    closed = free_port()
    outcome = await run_bot_process(
        tmp_path, BOT_TOKEN=emulator.token, TELEGRAM_API_URL=f"http://127.0.0.1:{closed}"
    )
    assert_one_clear_line(outcome, "cannot reach the Telegram Bot API", f"127.0.0.1:{closed}")


async def test_a_busy_http_port_gets_one_line(
    emulator: BotAPIEmulator, tmp_path: Path, held_port: int
) -> None:
    outcome = await run_bot_process(
        tmp_path,
        BOT_TOKEN=emulator.token,
        TELEGRAM_API_URL=emulator.base_url,
        HTTP_PORT=str(held_port),
        MIGRATE_ON_START="false",
    )
    assert_one_clear_line(outcome, f"127.0.0.1:{held_port}", "HTTP_PORT", "HTTP_ENABLED=false")
    # It got as far as the port: the token was good.
    assert emulator.calls_to("getMe", ok=True)
