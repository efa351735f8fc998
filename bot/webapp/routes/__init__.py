"""The Mini App's pages and API routes, one module per feature (docs/webapp.md).

Each module exposes ``setup(webapp: WebApp) -> None`` registering its page(s) and routes; add it
to ``FEATURES``.
"""

from __future__ import annotations

from collections.abc import Callable

from aiogram import Bot

from bot.deps import AppDeps
from bot.webapp.config import WebAppSettings
from bot.webapp.routes import dashboard, keygen, reader
from bot.webapp.server import RefusalHook, WebApp, log_refusal

FEATURES: list[Callable[[WebApp], None]] = [keygen.setup, reader.setup, dashboard.setup]


def build_webapp(
    settings: WebAppSettings, *, bot: Bot, deps: AppDeps, on_refused: RefusalHook = log_refusal
) -> WebApp:
    webapp = WebApp(settings, bot=bot, deps=deps, on_refused=on_refused)
    for setup in FEATURES:
        setup(webapp)
    return webapp
