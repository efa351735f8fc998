"""The Mini App sub-application, mounted at ``/app`` on our aiohttp server (polling and webhook).

- ``GET /app/<page>``: a registered page (``static/<page>.html``);
- ``GET /app/static/…``: scripts, styles, the vendored OpenPGP.js;
- ``GET /app/strings/<locale>.json``: the page strings from ``locales/<locale>/webapp*.ftl``
  (public: catalogue text only, so the reader also works in a plain browser);
- ``/app/api/…``: JSON routes; every one checks ``initData`` (``Authorization: tma <initData>``)
  first and answers 403 JSON, after calling the refusal hook, when it is missing, forged or
  older than ``WEBAPP__MAX_AGE_SECONDS``.

A feature adds its page and routes in ``bot/webapp/routes/<feature>.py`` (docs/webapp.md).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiogram import Bot
from aiohttp import web
from fluent.syntax import FluentParser, ast
from fluent.syntax.visitor import Visitor
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import User
from bot.deps import AppDeps
from bot.i18n import LOCALES_DIR, Translator
from bot.webapp.auth import Caller, InitDataRefused, RefusalReason, verify_init_data
from bot.webapp.config import WebAppSettings

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
AUTH_SCHEME = "tma "
# Pages talk to us only: no third-party script, no request to any other origin (the reader's
# promise that nothing is uploaded is also enforced by the browser).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'"
)
_SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


@dataclass(frozen=True, slots=True)
class Refusal:
    """A refused API request, for the caller's audit (nothing personal but the user id)."""

    path: str
    reason: RefusalReason
    # Known only when the initData was authentic (a FORBIDDEN refusal).
    user_id: int | None = None


RefusalHook = Callable[[Refusal], Awaitable[None]]
ApiHandler = Callable[[web.Request, Caller], Awaitable[web.StreamResponse]]


async def log_refusal(refusal: Refusal) -> None:
    log.info("mini app request refused: %s %s", refusal.reason.value, refusal.path)


def catalogue(
    translator: Translator, locale: str, locales_dir: Path = LOCALES_DIR
) -> dict[str, str]:
    """The page strings of one locale: every message of ``webapp*.ftl``.

    A Fluent variable ``{ $name }`` comes out as ``{name}``; the page fills it in (webapp.js).
    """
    parser = FluentParser()
    out: dict[str, str] = {}
    for path in sorted((locales_dir / locale).glob("webapp*.ftl")):
        resource = parser.parse(path.read_text(encoding="utf-8"))
        for entry in resource.body:
            if isinstance(entry, ast.Message):
                names = _variables(entry)
                key = entry.id.name
                out[key] = translator.get(locale, key, **{n: "{" + n + "}" for n in names})
    return out


def _variables(message: ast.Message) -> set[str]:
    found: set[str] = set()

    class Variables(Visitor):
        def visit_VariableReference(self, node: ast.VariableReference) -> None:  # noqa: N802
            found.add(node.id.name)
            self.generic_visit(node)

    Variables().visit(message)
    return found


class WebApp:
    """Pages and API routes of the Mini App; ``create()`` builds the aiohttp sub-application."""

    def __init__(
        self,
        settings: WebAppSettings,
        *,
        bot: Bot,
        deps: AppDeps,
        on_refused: RefusalHook = log_refusal,
        static_dir: Path = STATIC_DIR,
    ) -> None:
        self.settings = settings
        self.bot = bot
        self.deps = deps
        self.on_refused = on_refused
        self.static_dir = static_dir
        self.max_age = timedelta(seconds=settings.max_age_seconds)
        self._pages: set[str] = set()
        self._routes: list[tuple[str, str, ApiHandler]] = []
        self._strings = {
            locale: catalogue(deps["translator"], locale) for locale in deps["translator"].locales
        }

    # ------------------------------------------------------------------ registration

    def page(self, name: str) -> None:
        """Serve ``static/<name>.html`` at ``/app/<name>``."""
        if not (self.static_dir / f"{name}.html").is_file():
            raise ValueError(f"no static/{name}.html")
        self._pages.add(name)

    def api(self, method: str, path: str, handler: ApiHandler) -> None:
        """A JSON route at ``/app/api/<path>``; ``handler`` runs only for checked initData."""
        self._routes.append((method, "/api/" + path.lstrip("/"), handler))

    # ------------------------------------------------------------------ requests

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        """One request's session, committed when the block ends without an error; answer the
        page after the block. (Updates differ: there the services commit, see
        docs/architecture.md.)"""
        async with self.deps["sessionmaker"]() as session:
            yield session
            await session.commit()

    def caller_of(self, request: web.Request) -> Caller:
        """The checked caller of ``request``; raises :class:`InitDataRefused`."""
        header = request.headers.get("Authorization", "")
        raw = header[len(AUTH_SCHEME) :] if header.startswith(AUTH_SCHEME) else None
        token = self.bot.token
        return verify_init_data(token, raw, max_age=self.max_age)

    async def refuse(
        self, request: web.Request, reason: RefusalReason, caller: Caller | None = None
    ) -> web.Response:
        """Tell the refusal hook, then answer 403 JSON (routes call it for FORBIDDEN)."""
        refusal = Refusal(request.path, reason, caller.user_id if caller else None)
        try:
            await self.on_refused(refusal)
        except Exception:  # an audit hiccup must not turn a refusal into a 500 (or an answer)
            log.exception("refusal hook failed")
        return web.json_response({"error": reason.value}, status=403)

    def _checked(self, handler: ApiHandler) -> Callable[[web.Request], Awaitable[Any]]:
        async def guarded(request: web.Request) -> web.StreamResponse:
            try:
                caller = self.caller_of(request)
            except InitDataRefused as exc:
                return await self.refuse(request, exc.reason)
            return await handler(request, caller)

        return guarded

    async def _session(self, request: web.Request, caller: Caller) -> web.Response:
        """Who the page talks for and in which language (the user's choice in the bot first)."""
        translator = self.deps["translator"]
        async with self.deps["sessionmaker"]() as session:
            user = await session.get(User, caller.user_id)
        locale = translator.resolve_locale(user.locale if user else None, caller.language_code)
        return web.json_response({"user_id": caller.user_id, "locale": locale})

    async def _strings_of(self, request: web.Request) -> web.Response:
        locale = request.match_info["locale"]
        strings = self._strings.get(locale)
        if strings is None:
            raise web.HTTPNotFound
        return web.json_response(strings, headers={"Cache-Control": "no-cache"})

    def _page_handler(self, name: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        path = self.static_dir / f"{name}.html"

        async def serve(request: web.Request) -> web.StreamResponse:
            return web.FileResponse(
                path, headers={**_SECURITY_HEADERS, "Cache-Control": "no-cache"}
            )

        return serve

    def create(self) -> web.Application:
        """A fresh sub-application (aiohttp freezes one once it is mounted)."""

        @web.middleware
        async def headers(
            request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
        ) -> web.StreamResponse:
            response = await handler(request)
            for name, value in _SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            return response

        app = web.Application(middlewares=[headers])
        app[WEBAPP_KEY] = self
        app.router.add_get("/strings/{locale}.json", self._strings_of)
        app.router.add_static("/static", self.static_dir, append_version=False)
        app.router.add_get("/api/session", self._checked(self._session))
        for method, path, handler in self._routes:
            app.router.add_route(method, path, self._checked(handler))
        for name in sorted(self._pages):
            app.router.add_get(f"/{name}", self._page_handler(name))
        return app


WEBAPP_KEY = web.AppKey("webapp", WebApp)


def json_error(code: str, status: int) -> web.Response:
    """A route's refusal the page can name: ``{"error": code}`` (``webapp-error-<code>``)."""
    return web.json_response({"error": code}, status=status)


def webapp_of(request: web.Request) -> WebApp:
    """The :class:`WebApp` a route runs in (its bot and application dependencies)."""
    return request.app[WEBAPP_KEY]
