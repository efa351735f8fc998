"""`services.waiting.wait_set`, and no `asyncio.wait_for` left in the application."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

import pytest

from services.waiting import wait_set

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "handlers", "middlewares", "services", "keyboards")


async def test_it_says_whether_the_event_came() -> None:
    event = asyncio.Event()
    assert await wait_set(event, 0.01) is False
    asyncio.get_running_loop().call_soon(event.set)
    assert await wait_set(event, 30) is True


async def test_a_cancellation_as_the_event_is_set_is_not_lost() -> None:
    # The race asyncio.wait_for loses on 3.11: the event is set and the waiter cancelled in
    # the same loop iteration. The waiter must end cancelled, not carry on.
    event = asyncio.Event()
    for _ in range(50):
        event.clear()
        waiter = asyncio.create_task(wait_set(event, 30))
        await asyncio.sleep(0)  # the waiter is inside event.wait()
        event.set()
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter


def test_the_application_never_uses_asyncio_wait_for() -> None:
    found = []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Attribute) and node.attr == "wait_for":
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not found, f"use services.waiting.wait_set (gh-86296): {found}"
