"""Issue 18: a webhook request with the right secret but a body that is not an update gets 400,
one log line and no traceback; an update of no known kind is skipped without an error."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable

import aiohttp
import pytest

from bot.settings import Settings
from tests.emulator.server import BotAPIEmulator
from tests.harness import run_bot

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

NOT_UPDATES: list[tuple[str, bytes]] = [
    ("invalid JSON", b'{"update_id": 1, "message": '),
    ("not UTF-8", b"\xff\xfe{}"),
    ("empty body", b""),
    ("a list", b"[]"),
    ("an empty object", b"{}"),
    ("a string", b'"update"'),
    ("a number", b"5"),
    ("update_id of the wrong type", b'{"update_id": "five"}'),
    ("a message of the wrong type", b'{"update_id": 7, "message": "hi"}'),
    ("a message missing its fields", b'{"update_id": 8, "message": {"message_id": 1}}'),
    ("a callback query of the wrong shape", b'{"update_id": 9, "callback_query": []}'),
]


# Where a bad body's traceback would show: aiohttp's server, asyncio's orphaned tasks, aiogram,
# the webhook handler and the update middlewares. (A warning elsewhere, such as the send budget
# noting a slow Redis on a loaded machine, is not this test's business.)
WATCHED = ("aiohttp", "asyncio", "aiogram", "bot.web", "middlewares")


def problems(records: list[logging.LogRecord]) -> list[str]:
    """Errors logged by anything, and tracebacks logged where a bad body would cause them."""
    return [
        f"{r.name}: {r.getMessage()}"
        for r in records
        if r.levelno >= logging.ERROR or (r.exc_info is not None and r.name.startswith(WATCHED))
    ]


async def test_bodies_that_are_not_updates_get_400_and_nothing_breaks(
    emulator: BotAPIEmulator,
    make_settings: Callable[..., Settings],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    async with run_bot(emulator, make_settings(), "webhook") as app:
        url = app.settings.webhook_url
        secret = app.settings.webhook_secret
        assert url is not None
        assert secret is not None
        headers = {SECRET_HEADER: secret.get_secret_value(), "Content-Type": "application/json"}
        async with aiohttp.ClientSession() as http:
            for what, body in NOT_UPDATES:
                async with http.post(url, data=body, headers=headers) as resp:
                    assert resp.status == 400, what
                    assert await resp.text() == "not an update", what
            # A valid update of no kind this version knows (only its id, or a kind Telegram
            # added later) is acknowledged, so that Telegram does not retry it, and skipped.
            for body in (b'{"update_id": 5}', b'{"update_id": 6, "a_future_kind": {"x": 1}}'):
                async with http.post(url, data=body, headers=headers) as resp:
                    assert resp.status == 200
        # The bot still answers, and the skipped updates were counted, not failed.
        user = emulator.create_user("Ken", language_code="en")
        sent = await user.send_text("/help")
        reply = await user.wait_reply(after=sent)
        assert "How to use Libral" in (reply.text or "")
        assert app.metrics.update_counts().get("unknown") == 2
        assert sum(s.value for m in app.metrics.errors.collect() for s in m.samples) == 0
    # An exception in a task nobody awaited is reported when the task is collected.
    await asyncio.sleep(0)
    gc.collect()
    assert problems(caplog.records) == []
    logged = caplog.text
    assert "Task exception was never retrieved" not in logged
    assert not any(r.exc_info for r in caplog.records if r.name.startswith(WATCHED))
    assert sum("webhook:" in r.getMessage() for r in caplog.records) == len(NOT_UPDATES)
