"""Run the real application against the Bot API emulator, in polling or webhook mode."""

from __future__ import annotations

import asyncio
import inspect
import io
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Literal, TypeVar, overload

from pydantic import SecretStr

from bot.app import Application, build, run
from bot.db.transactions import TransactionGuard
from bot.settings import Settings
from tests.emulator.server import BotAPIEmulator

Mode = Literal["polling", "webhook"]
T = TypeVar("T")

# A safety limit only: every wait ends as soon as its condition holds. Generous, so that a loaded
# two-core machine never turns slowness into a failure.
EVENTUALLY_TIMEOUT = 60.0


@overload
async def eventually(
    check: Callable[[], Awaitable[T | Literal[False] | None]],
    what: str,
    *,
    timeout: float = EVENTUALLY_TIMEOUT,
    interval: float = 0.02,
) -> T: ...
@overload
async def eventually(
    check: Callable[[], T | Literal[False] | None],
    what: str,
    *,
    timeout: float = EVENTUALLY_TIMEOUT,
    interval: float = 0.02,
) -> T: ...
async def eventually(
    check: Callable[[], object],
    what: str,
    *,
    timeout: float = EVENTUALLY_TIMEOUT,
    interval: float = 0.02,
) -> object:
    """Poll `check` (sync or async) until it returns something other than None/False; return it.

    For conditions on the bot's side (database rows, metrics): a commit does not wake the
    emulator's waiters, so `emulator.wait_until` would only look again at the next Bot API call.
    After `timeout` seconds it fails with "<what> did not happen within <timeout> s".
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result is not None and result is not False:
            return result
        if loop.time() >= deadline:
            raise AssertionError(f"{what} did not happen within {timeout:g} s")
        await asyncio.sleep(interval)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def settings_for(emulator: BotAPIEmulator, settings: Settings, mode: Mode) -> Settings:
    overrides: dict[str, Any] = {
        "telegram_api_url": emulator.base_url,
        "bot_token": SecretStr(emulator.token),
    }
    if mode == "webhook":
        port = free_port()
        overrides |= {
            "webhook_url": f"http://127.0.0.1:{port}{settings.webhook_path}",
            "webhook_secret": SecretStr(secrets.token_urlsafe(24)),
            "http_enabled": True,
            "http_host": "127.0.0.1",
            "http_port": port,
        }
    return settings.model_copy(update=overrides)


@asynccontextmanager
async def run_bot(
    emulator: BotAPIEmulator, settings: Settings, mode: Mode = "polling"
) -> AsyncIterator[Application]:
    """Start the bot, wait until it listens for updates, stop it cleanly on exit."""
    app = build(settings_for(emulator, settings, mode))
    # Polling: updates queue in the emulator until polled, so having dropped the webhook is enough.
    ready_method = "setWebhook" if mode == "webhook" else "deleteWebhook"
    seen = len(emulator.calls_to(ready_method, ok=True))
    stop = asyncio.Event()
    task = asyncio.create_task(run(app, stop), name=f"libral-{mode}")

    def ready() -> bool:
        if task.done():
            return True
        return len(emulator.calls_to(ready_method, ok=True)) > seen

    await emulator.wait_until(ready, timeout=30, what=f"bot ready ({mode})")
    if task.done():
        task.result()  # start-up failed: raise its error here
    try:
        yield app
    finally:
        stop.set()
        # Shutdown is bounded by design: the last long poll (10 s), the drain of updates in hand
        # (10 s) and of sends waiting for their slot (SENDBUDGET__DRAIN_SECONDS, 15 s), and
        # closing. On a loaded 2-core machine that sum takes longer than 30 s; 90 s still
        # catches a shutdown that hangs.
        done, _ = await asyncio.wait({task}, timeout=90)
        if not done:
            # Say what it hangs on: the stack of every task still running.
            stacks = io.StringIO()
            for other in asyncio.all_tasks():
                if other is not asyncio.current_task():
                    other.print_stack(limit=12, file=stacks)
            task.cancel()
            raise AssertionError(f"the bot did not stop within 90 s; tasks:\n{stacks.getvalue()}")
        task.result()
    # Every e2e test holds every handler to the unit-of-work rule (bot/db/transactions.py): none
    # told the user anything before its change was committed, none left a write uncommitted.
    assert_units_of_work(app.transactions)


def assert_units_of_work(guard: TransactionGuard) -> None:
    if guard.count:
        listed = "\n  ".join(str(v) for v in guard.violations)
        raise AssertionError(f"{guard.count} unit-of-work violation(s):\n  {listed}")
