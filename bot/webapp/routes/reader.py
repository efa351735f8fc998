"""The browser reader page: it reads an export and the user's key on the device and sends
nothing, so it has no API route (and works in a plain browser, without initData)."""

from __future__ import annotations

from bot.webapp.server import WebApp

READER_PAGE = "reader"


def setup(webapp: WebApp) -> None:
    webapp.page(READER_PAGE)
