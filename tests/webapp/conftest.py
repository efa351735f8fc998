"""Fixtures for the Mini App: the real application serving HTTP, and a headless chromium."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
from playwright.async_api import Browser, Page, async_playwright

from bot.app import Application
from bot.settings import Settings
from bot.webapp.config import WebAppSettings
from tests.emulator.server import BotAPIEmulator
from tests.harness import free_port, run_bot
from tests.webapp.support import CHROMIUM_ARGS, require_chromium

PUBLIC_URL = "https://libral.test"


@dataclass
class Served:
    app: Application
    # Where the test reaches our HTTP server (Telegram clients would use PUBLIC_URL).
    base_url: str

    def local(self, public: str) -> str:
        """A public Mini App address (a button's URL) as the test reaches it."""
        assert public.startswith(PUBLIC_URL + "/"), public
        return self.base_url + public.removeprefix(PUBLIC_URL)


@pytest.fixture
def webapp_settings(make_settings: Callable[..., Settings]) -> Callable[..., Settings]:
    """Settings with our HTTP server on a free local port and a public Mini App URL."""

    def make(**overrides: object) -> Settings:
        port = free_port()
        values: dict[str, object] = {
            "http_enabled": True,
            "http_host": "127.0.0.1",
            "http_port": port,
            "webapp": WebAppSettings(public_url=PUBLIC_URL),
        }
        values.update(overrides)
        return make_settings(**values)

    return make


@pytest.fixture
async def served(
    emulator: BotAPIEmulator, webapp_settings: Callable[..., Settings]
) -> AsyncIterator[Served]:
    settings = webapp_settings()
    async with run_bot(emulator, settings) as app:
        yield Served(app, f"http://127.0.0.1:{settings.http_port}")


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    path = require_chromium()
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(locale="en-US", accept_downloads=True)
    opened = await context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield opened
    finally:
        await context.close()
    assert not errors, f"uncaught errors in the page: {errors}"
