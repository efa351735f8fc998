"""The operators' dashboard page (`/app/dashboard`) and its API, operators only.

- `GET /app/api/dashboard/snapshot?window=24h|7d|30d`: the figures (services/dashboard), JSON;
- `GET /app/api/dashboard/events`: Server-Sent Events (`text/event-stream`) with the live traffic
  of every instance. The page reads it with `fetch` so that initData travels in the
  `Authorization` header like on every other route (`EventSource` cannot send headers, and
  initData in a URL would end up in proxy logs). The stream ends when the initData reaches its
  age limit and when the caller stops being an operator (checked at every heartbeat);
- `POST /app/api/dashboard/panel`: the bot posts the `/admin` panel into the operator's chat,
  where every action is confirmed and audited (the dashboard itself changes nothing).

Who is an operator: `services/admin/access.py: is_admin` (ADMIN_IDS or the admin role). Anyone
else gets 403 and an audit record; so do forged and stale initData (the refusal hook wired in
`bot/app.py`: `refusal_auditor`).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from time import monotonic

from aiogram.exceptions import TelegramAPIError
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.base import utcnow
from bot.db.models import User
from bot.db.models.admin import AuditResult
from bot.deps import AppDeps
from bot.settings import Settings
from bot.webapp.auth import Caller, RefusalReason
from bot.webapp.server import Refusal, RefusalHook, WebApp, webapp_of
from keyboards import admin as admin_kb
from services.admin import audit
from services.admin.access import is_admin
from services.admin.audit import AuditAction
from services.dashboard.figures import Window

log = logging.getLogger(__name__)

PAGE = "dashboard"
API_PREFIX = "/app/api/dashboard/"


def setup(webapp: WebApp) -> None:
    webapp.page(PAGE)
    webapp.api("GET", "dashboard/snapshot", snapshot)
    webapp.api("GET", "dashboard/events", events)
    webapp.api("POST", "dashboard/panel", open_panel)


async def _operator(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, caller: Caller
) -> bool:
    async with sessionmaker() as session:
        user = await session.get(User, caller.user_id)
    return is_admin(settings, user)


async def _audit(deps: AppDeps, actor_id: int, result: AuditResult, target: str) -> None:
    await audit.record_alone(
        deps["sessionmaker"],
        deps["settings"].admin,
        actor_id,
        AuditAction.DASHBOARD,
        result,
        target,
    )
    deps["admin"].changed()


async def snapshot(request: web.Request, caller: Caller) -> web.StreamResponse:
    webapp = webapp_of(request)
    deps = webapp.deps
    if not await _operator(deps["sessionmaker"], deps["settings"], caller):
        return await webapp.refuse(request, RefusalReason.FORBIDDEN, caller)
    try:
        window = Window(request.query.get("window", Window.DAY.value))
    except ValueError:
        return web.json_response({"error": "window"}, status=400)
    async with deps["sessionmaker"]() as session:
        snap = await deps["dashboard"].snapshot(session, window, utcnow())
    return web.Response(
        text=snap.model_dump_json(),
        content_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


def _sse(kind: str, data: object) -> bytes:
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return f"event: {kind}\ndata: {body}\n\n".encode()


async def events(request: web.Request, caller: Caller) -> web.StreamResponse:
    webapp = webapp_of(request)
    deps = webapp.deps
    sessionmaker, settings = deps["sessionmaker"], deps["settings"]
    if not await _operator(sessionmaker, settings, caller):
        return await webapp.refuse(request, RefusalReason.FORBIDDEN, caller)
    await _audit(deps, caller.user_id, AuditResult.OK, "open")
    dashboard = deps["dashboard"]
    expires_at = caller.auth_date + webapp.max_age
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            # nginx and friends buffer responses unless told not to.
            "X-Accel-Buffering": "no",
        }
    )
    await response.prepare(request)
    heartbeat = dashboard.settings.heartbeat_seconds
    try:
        async with dashboard.bus.subscribe() as sub:
            await response.write(_sse("ready", {"expires_at": expires_at.isoformat()}))
            next_check = monotonic() + heartbeat
            while not sub.closed:
                left = (expires_at - datetime.now(UTC)).total_seconds()
                if left <= 0:
                    await response.write(_sse("expired", {}))
                    break
                wait = max(0.0, min(next_check - monotonic(), left))
                event = await sub.get(timeout=wait)
                if event is not None:
                    await response.write(_sse(str(event.get("type", "message")), event))
                if sub.closed or monotonic() < next_check:
                    continue
                # Every heartbeat, busy or quiet: still an operator? (a demoted one loses it)
                next_check = monotonic() + heartbeat
                if not await _operator(sessionmaker, settings, caller):
                    await response.write(_sse("refused", {"error": "forbidden"}))
                    break
                await response.write(b": keep-alive\n\n")
    except ConnectionResetError:
        # The page went away: nothing to tell anyone.
        log.debug("dashboard event stream closed by the client")
    return response


async def open_panel(request: web.Request, caller: Caller) -> web.StreamResponse:
    """The bot posts the `/admin` panel into the operator's private chat with it."""
    webapp = webapp_of(request)
    deps = webapp.deps
    if not await _operator(deps["sessionmaker"], deps["settings"], caller):
        return await webapp.refuse(request, RefusalReason.FORBIDDEN, caller)
    translator = deps["translator"]
    async with deps["sessionmaker"]() as session:
        user = await session.get(User, caller.user_id)
    locale = translator.resolve_locale(user.locale if user else None, caller.language_code)
    i18n = translator.for_locale(locale)
    admin = deps["admin"]
    payments = admin.ports.recent_payments is not None and admin.ports.refund is not None
    try:
        await webapp.bot.send_message(
            caller.user_id,
            i18n("admin-menu"),
            reply_markup=admin_kb.menu(
                i18n, payments=payments, dashboard_url=settings_page_url(deps["settings"])
            ),
        )
    except TelegramAPIError:
        # The chat is unreachable (the bot blocked, say): the page says so, nothing else moved.
        log.warning("the admin panel could not be posted from the dashboard", exc_info=True)
        await _audit(deps, caller.user_id, AuditResult.FAILED, "panel")
        return web.json_response({"error": "panel"}, status=502)
    await _audit(deps, caller.user_id, AuditResult.OK, "panel")
    return web.json_response({"ok": True})


def settings_page_url(settings: Settings) -> str | None:
    return settings.webapp.page_url(PAGE)


def refusal_auditor(deps: AppDeps) -> RefusalHook:
    """The Mini App's refusal hook: a refused dashboard request is an audit record."""

    async def hook(refusal: Refusal) -> None:
        log.info("mini app request refused: %s %s", refusal.reason.value, refusal.path)
        if not refusal.path.startswith(API_PREFIX):
            return
        # Forged and stale initData name nobody we can trust: actor 0.
        await _audit(deps, refusal.user_id or 0, AuditResult.DENIED, refusal.reason.value)

    return hook
