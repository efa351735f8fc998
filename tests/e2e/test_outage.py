"""Redis down for 30 s, then PostgreSQL down for 30 s, while users write: each of them hears a clear
answer in their language, the bot keeps running, and every message is answered once the service
is back, without a restart.

The faults are real: this test starts its own redis-server and PostgreSQL instance on free ports
and stops and starts them (never the machine's shared servers). `LIBRAL_OUTAGE_SECONDS` shortens
the outages for a quick local run.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from bot.i18n import Translator
from bot.settings import Settings
from tests.db import _execute, _migrate, with_database
from tests.emulator.actors import UserActor
from tests.emulator.server import BotAPIEmulator
from tests.harness import free_port, run_bot

OUTAGE_SECONDS = float(os.environ.get("LIBRAL_OUTAGE_SECONDS", "30"))
# Generous: the machine running the tests may be loaded.
ANSWER_TIMEOUT = 90.0
PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _as_postgres(args: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root.
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


def _tool(name: str) -> str:
    found = shutil.which(name) or (str(PG_BIN / name) if (PG_BIN / name).exists() else None)
    if found is None:
        pytest.skip(f"needs {name}")
    return found


class RedisServer:
    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [_tool("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "no", "--dir", str(self.directory)]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while (
            subprocess.run(
                ["redis-cli", "-p", str(self.port), "ping"], capture_output=True, check=False
            ).stdout.strip()
            != b"PONG"
        ):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None


class PostgresServer:
    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.data = directory / "data"
        self.directory = directory
        if os.geteuid() == 0:
            shutil.chown(directory, "postgres")
        subprocess.run(
            _as_postgres([_tool("initdb"), "-D", str(self.data), "-A", "trust", "--no-sync"]),
            check=True,
            capture_output=True,
        )

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        # the superuser is named after the OS user: postgres
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        command = [_tool("pg_ctl"), "-D", str(self.data), "-w", "-t", "60", "-o", options]
        command += ["-l", str(self.directory / "server.log"), *args]
        subprocess.run(_as_postgres(command), check=True, capture_output=True)

    def start(self) -> None:
        self._ctl("start")

    def stop(self) -> None:
        # fast: the connections in the bot's pool are terminated, as in a real outage
        self._ctl("-m", "fast", "stop")


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    directory = tmp_path / "redis"
    directory.mkdir()
    server = RedisServer(directory)
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def postgres_server() -> AsyncIterator[PostgresServer]:
    # Not under pytest's tmp_path: the postgres user cannot enter root's private directory.
    directory = Path(tempfile.mkdtemp(prefix="libral-outage-pg-"))
    try:
        server = PostgresServer(directory)
        server.start()
        yield server
        server.stop()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


async def test_redis_then_postgresql_down_for_30_s_loses_nothing(
    emulator: BotAPIEmulator,
    make_settings: Callable[..., Settings],
    redis_server: RedisServer,
    postgres_server: PostgresServer,
) -> None:
    database = with_database(postgres_server.url, "libral")
    await _execute(postgres_server.url, 'CREATE DATABASE "libral"')
    await _migrate(database)
    settings = make_settings(database_url=database, redis_url=redis_server.url)
    translator = Translator()
    async with run_bot(emulator, settings):
        users = [
            emulator.create_user("Aki", language_code="ja"),
            emulator.create_user("Ben", language_code="en"),
            emulator.create_user("Cho", language_code="ja"),
        ]

        def texts(user: UserActor) -> list[str]:
            return [m.text or "" for m in emulator.messages(user.chat, from_bot=True)]

        def count(user: UserActor, key: str, **args: object) -> int:
            lang = user.user.language_code or "en"
            expected = translator.get(lang, key, **args)
            return sum(t == expected for t in texts(user))

        def helps(user: UserActor) -> int:
            lang = user.user.language_code or "en"
            line = "/help — " + translator.get(lang, "cmd-help")
            return sum(line in t for t in texts(user))

        def balances(user: UserActor) -> int:
            return sum(t.startswith(("Balance", "残高")) for t in texts(user))

        async def answered(condition: Callable[[], bool], what: str) -> None:
            await emulator.wait_until(condition, timeout=ANSWER_TIMEOUT, what=what)

        for user in users:
            sent = await user.send_text("/balance")
            await user.wait_reply(after=sent, timeout=ANSWER_TIMEOUT)
        baseline = {user.id: balances(user) for user in users}

        # --- Redis down: de-duplication, throttling and FSM state are unavailable.
        redis_server.stop()
        down_since = time.monotonic()
        for user in users:
            await user.send_text("/help")
        await answered(
            lambda: all(count(u, "error-unavailable") == 1 for u in users),
            "every user told, in their language, that the answer is delayed (Redis)",
        )
        assert all(helps(u) == 0 for u in users)
        await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_since)))
        assert all(helps(u) == 0 for u in users)
        redis_server.start()
        await answered(
            lambda: all(helps(u) == 1 for u in users), "every /help answered after Redis"
        )

        # --- PostgreSQL down: the commands that need the database wait for it.
        postgres_server.stop()
        down_since = time.monotonic()
        for user in users:
            await user.send_text("/balance")
        await answered(
            lambda: all(count(u, "error-unavailable") == 2 for u in users),
            "every user told, in their language, that the answer is delayed (PostgreSQL)",
        )
        await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_since)))
        assert all(balances(u) == baseline[u.id] for u in users)
        postgres_server.start()
        await answered(
            lambda: all(balances(u) == baseline[u.id] + 1 for u in users),
            "every /balance answered after PostgreSQL",
        )

        # Nothing answered twice, nothing apologised for as a failure, and the bot still serves.
        await emulator.wait_until(lambda: emulator.updates.pending_count == 0, what="delivered")
        for user in users:
            sent = await user.send_text("/help")
            await user.wait_reply(after=sent, timeout=ANSWER_TIMEOUT)
            assert helps(user) == 2
            assert count(user, "error-generic") == 0
            assert count(user, "error-unavailable") == 2
