"""Run the real application against the Bot API emulator, in polling or webhook mode."""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

from pydantic import SecretStr

from bot.app import Application, build, run
from bot.settings import Settings
from tests.emulator.server import BotAPIEmulator

Mode = Literal["polling", "webhook"]


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
        await asyncio.wait_for(task, timeout=30)
