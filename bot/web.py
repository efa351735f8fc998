"""The HTTP side: webhook endpoint (secret checked by aiogram), /healthz, /metrics and the Mini
App under /app (bot/webapp)."""

from __future__ import annotations

import json
import logging
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.methods import TelegramMethod
from aiogram.types import Update
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.metrics import Metrics
from bot.state import KeyValueState
from middlewares.data import WebhookDelivery

log = logging.getLogger(__name__)


class HealthProbe:
    def __init__(
        self, engine: AsyncEngine, state: KeyValueState, metrics: Metrics, redis_configured: bool
    ) -> None:
        self.engine = engine
        self.state = state
        self.metrics = metrics
        self.redis_configured = redis_configured

    async def check(self) -> dict[str, str]:
        report: dict[str, str] = {}
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            report["database"] = "ok"
        except Exception:  # noqa: BLE001 - any failure means "down" to a health check
            report["database"] = "down"
        if self.redis_configured:
            report["redis"] = "ok" if await self.state.ping() else "down"
        else:
            report["redis"] = "not configured"
        return report


class WebhookHandler(SimpleRequestHandler):
    """aiogram's webhook handler, with the body checked before anything is handled, and Telegram
    answered when the update is handled, not before.

    - aiogram parses the body inside the background task it starts, after answering 200: invalid
      JSON ends in a 500 with a traceback, and a body that is not an update (`[]`, `{}`, wrong
      types) fails in a task nobody awaits. Here the body is parsed and validated as an `Update`
      first; what is not one gets 400 (Telegram never sends it, so it is a forged or broken
      request) and one log line without its content.
    - aiogram's default answers at once and handles in the background, so a process dying
      mid-way would lose the update. Here it is answered once handled. An update that another
      instance is still handling gets 503: Telegram delivers it again later
      (middlewares/updates.py, DeduplicateMiddleware). A handler running past aiogram's 55 s is
      answered then and finishes in the background (Telegram gives up at about 60 s).
    """

    def __init__(self, dispatcher: Dispatcher, bot: Bot, *, secret_token: str | None) -> None:
        super().__init__(dispatcher, bot, handle_in_background=False, secret_token=secret_token)

    async def _handle_request(self, bot: Bot, request: web.Request) -> web.Response:
        update = await self._parse(request, bot)
        if update is None:
            return web.Response(text="not an update", status=400)
        webhook = WebhookDelivery()
        try:
            result: TelegramMethod[Any] | None = await self.dispatcher.feed_webhook_update(
                bot, update, webhook=webhook, **self.data
            )
        except Exception:
            # The error boundary takes a handler's failure; what escapes it is logged with the
            # update id, and Telegram delivers the update again.
            log.exception("webhook: update %s failed outside the error boundary", update.update_id)
            return web.Response(status=500, text="update failed; deliver it again later")
        if webhook.in_progress:
            return web.Response(status=503, text="update in progress; deliver it again later")
        return web.Response(body=self._build_response_writer(bot=bot, result=result))

    async def _parse(self, request: web.Request, bot: Bot) -> Update | None:
        try:
            raw: Any = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError):
            log.info("webhook: a body that is not JSON; refused")
            return None
        if not isinstance(raw, dict) or "update_id" not in raw:
            log.info("webhook: a JSON body that is not an update; refused")
            return None
        try:
            return Update.model_validate(raw, context={"bot": bot})
        except ValidationError as exc:
            # The field paths only: the values may be personal.
            where = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors()[:3])
            log.info("webhook: an update that does not validate (%s); refused", where)
            return None


HEALTH_KEY = web.AppKey("health", HealthProbe)


async def healthz(request: web.Request) -> web.Response:
    report = await request.app[HEALTH_KEY].check()
    healthy = all(v != "down" for v in report.values())
    return web.json_response(report, status=200 if healthy else 503)


async def metrics(request: web.Request) -> web.Response:
    body = request.app[HEALTH_KEY].metrics.render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def create_web_app(
    probe: HealthProbe,
    *,
    dispatcher: Dispatcher | None = None,
    bot: Bot | None = None,
    webhook_path: str = "/webhook",
    webhook_secret: str | None = None,
    webapp: web.Application | None = None,
) -> web.Application:
    app = web.Application()
    app[HEALTH_KEY] = probe
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    if dispatcher is not None and bot is not None:
        # aiogram answers 401 when X-Telegram-Bot-Api-Secret-Token is missing or wrong.
        handler = WebhookHandler(dispatcher, bot, secret_token=webhook_secret)
        handler.register(app, path=webhook_path)
    if webapp is not None:
        app.add_subapp("/app", webapp)
    return app
