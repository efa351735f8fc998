"""pytest fixtures for the emulator: ``emulator`` and ``emulator_bot``.

Enable them in ``tests/conftest.py`` with ``pytest_plugins = ["tests.emulator.fixtures"]``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiogram import Bot

from .server import BotAPIEmulator


@pytest_asyncio.fixture
async def emulator() -> AsyncIterator[BotAPIEmulator]:
    """A running emulator, fresh per test (flood limits and faults off)."""
    async with BotAPIEmulator() as emu:
        yield emu
    if emu.internal_errors:
        pytest.fail(f"the Bot API emulator itself failed: {emu.internal_errors}")


@pytest_asyncio.fixture
async def emulator_bot(emulator: BotAPIEmulator) -> AsyncIterator[Bot]:
    """A real aiogram ``Bot`` talking to ``emulator`` (closed after the test)."""
    bot = emulator.make_bot(timeout=5)
    try:
        yield bot
    finally:
        await bot.session.close()


__all__ = ["emulator", "emulator_bot"]
