"""The Mini App base: initData checked on every API request, the refusal hook, page strings as
JSON, security headers, and a page in headless chromium reading initData as Telegram passes it."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import cast

import aiohttp
import pytest
from aiohttp import web
from playwright.async_api import Page

from bot.app import Application
from bot.deps import AppDeps
from bot.web import HealthProbe, create_web_app
from bot.webapp.auth import Caller, RefusalReason
from bot.webapp.config import WebAppSettings
from bot.webapp.server import STATIC_DIR, Refusal, WebApp, webapp_of
from tests.emulator.server import BotAPIEmulator
from tests.harness import free_port, run_bot
from tests.webapp.support import fragment, sign_init_data, telegram_user

PROBE_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><script type="module" src="static/probe.js"></script></head>
<body><p id="loading" data-i18n="webapp-loading"></p><p id="out"></p></body></html>
"""
PROBE_JS = """import { api, errorText, loadStrings } from "./webapp.js";
await loadStrings();
const out = document.getElementById("out");
try {
  const me = await api("probe/echo");
  out.textContent = "user " + me.user_id;
} catch (error) {
  out.textContent = errorText(error);
}
document.body.dataset.ready = "1";
"""


@dataclass
class Probe:
    app: Application
    webapp: WebApp
    base_url: str
    refusals: list[Refusal]

    @property
    def token(self) -> str:
        return self.app.bot.token


@pytest.fixture
async def probe(
    emulator: BotAPIEmulator, make_settings: object, tmp_path: Path
) -> AsyncIterator[Probe]:
    """The base with a test page and a test route, mounted as the real server mounts it."""
    static = tmp_path / "static"
    shutil.copytree(STATIC_DIR, static)
    (static / "probe.html").write_text(PROBE_HTML, "utf-8")
    (static / "probe.js").write_text(PROBE_JS, "utf-8")
    refusals: list[Refusal] = []

    async def record(refusal: Refusal) -> None:
        refusals.append(refusal)

    async def echo(request: web.Request, caller: Caller) -> web.Response:
        assert webapp_of(request).bot is not None
        return web.json_response({"user_id": caller.user_id})

    async def operators_only(request: web.Request, caller: Caller) -> web.Response:
        return await webapp_of(request).refuse(request, RefusalReason.FORBIDDEN, caller)

    settings = make_settings()  # type: ignore[operator]
    async with run_bot(emulator, settings) as app:
        deps = cast(AppDeps, app.dispatcher.workflow_data)
        webapp = WebApp(
            WebAppSettings(), bot=app.bot, deps=deps, on_refused=record, static_dir=static
        )
        webapp.page("probe")
        webapp.api("GET", "probe/echo", echo)
        webapp.api("POST", "probe/operators", operators_only)
        health = HealthProbe(app.engine, app.state, app.metrics, redis_configured=False)
        runner = web.AppRunner(create_web_app(health, webapp=webapp.create()))
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            yield Probe(app, webapp, f"http://127.0.0.1:{port}", refusals)
        finally:
            await runner.cleanup()


async def call(
    probe: Probe, path: str, init_data: str | None, method: str = "GET"
) -> tuple[int, dict[str, object]]:
    headers = {"Authorization": "tma " + init_data} if init_data is not None else {}
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, probe.base_url + path, headers=headers) as response,
    ):
        return response.status, await response.json()


async def test_valid_init_data_reaches_the_route(probe: Probe) -> None:
    init = sign_init_data(probe.token, telegram_user(4242))
    assert await call(probe, "/app/api/probe/echo", init) == (200, {"user_id": 4242})
    status, session = await call(probe, "/app/api/session", init)
    assert (status, session) == (200, {"user_id": 4242, "locale": "en"})
    assert probe.refusals == []


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda token: None, RefusalReason.MISSING),
        (lambda token: "", RefusalReason.MISSING),
        # signed with another bot's token
        (lambda token: sign_init_data("1:other", telegram_user(4242)), RefusalReason.INVALID),
        # a field changed after signing
        (
            lambda token: sign_init_data(token, telegram_user(4242)).replace("4242", "4243"),
            RefusalReason.INVALID,
        ),
        (lambda token: "user=%7B%7D&hash=00", RefusalReason.INVALID),
        # authentic, but without a user (not opened by one)
        (lambda token: sign_init_data(token, None), RefusalReason.INVALID),
        (
            lambda token: sign_init_data(
                token,
                telegram_user(4242),
                auth_date=datetime.now(UTC) - timedelta(hours=1, minutes=1),
            ),
            RefusalReason.STALE,
        ),
        (
            lambda token: sign_init_data(
                token, telegram_user(4242), auth_date=datetime.now(UTC) + timedelta(hours=1)
            ),
            RefusalReason.STALE,
        ),
    ],
    ids=["absent", "empty", "other-bot", "tampered", "garbage", "no-user", "stale", "future"],
)
async def test_every_api_route_refuses_bad_init_data_and_audits_it(
    probe: Probe, make: object, reason: RefusalReason
) -> None:
    init = make(probe.token)  # type: ignore[operator]
    for path in ("/app/api/probe/echo", "/app/api/session"):
        assert await call(probe, path, init) == (403, {"error": reason.value})
    assert probe.refusals == [
        Refusal("/app/api/probe/echo", reason),
        Refusal("/app/api/session", reason),
    ]


async def test_fresh_init_data_just_under_an_hour_passes(probe: Probe) -> None:
    init = sign_init_data(
        probe.token, telegram_user(7), auth_date=datetime.now(UTC) - timedelta(minutes=58)
    )
    assert (await call(probe, "/app/api/probe/echo", init))[0] == 200


async def test_a_route_refusal_names_the_user_for_the_audit(probe: Probe) -> None:
    init = sign_init_data(probe.token, telegram_user(99))
    status, body = await call(probe, "/app/api/probe/operators", init, method="POST")
    assert (status, body) == (403, {"error": "forbidden"})
    assert probe.refusals == [Refusal("/app/api/probe/operators", RefusalReason.FORBIDDEN, 99)]


async def test_strings_pages_and_headers(probe: Probe) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(probe.base_url + "/app/strings/ja.json") as response:
            assert response.status == 200
            ja = await response.json()
        async with http.get(probe.base_url + "/app/strings/xx.json") as response:
            assert response.status == 404
        async with http.get(probe.base_url + "/app/probe") as response:
            assert response.status == 200
            assert "default-src 'self'" in response.headers["Content-Security-Policy"]
            assert "connect-src 'self'" in response.headers["Content-Security-Policy"]
            assert response.headers["Referrer-Policy"] == "no-referrer"
        async with http.get(probe.base_url + "/app/static/vendor/openpgp.min.mjs") as response:
            assert response.status == 200
            assert "OpenPGP.js v6" in (await response.text())[:200]
        async with http.get(probe.base_url + "/app/nope") as response:
            assert response.status == 404
    assert ja["webapp-refused-stale"].startswith("ログイン情報の有効期限")
    assert all("{$" not in text and "{ $" not in text for text in ja.values())


async def test_a_page_reads_init_data_from_the_fragment_and_speaks_the_users_language(
    probe: Probe, page: Page
) -> None:
    init = sign_init_data(probe.token, telegram_user(4242, language_code="ja"))
    await page.goto(probe.base_url + "/app/probe" + fragment(init))
    await page.wait_for_selector("body[data-ready='1']")
    assert await page.text_content("#out") == "user 4242"
    assert await page.text_content("#loading") == "読み込み中…"


async def test_a_page_prefers_telegram_webapp_init_data(probe: Probe, page: Page) -> None:
    init = sign_init_data(probe.token, telegram_user(77, language_code="en"))
    await page.add_init_script(f"window.Telegram = {{ WebApp: {{ initData: {init!r} }} }};")
    await page.goto(probe.base_url + "/app/probe")
    await page.wait_for_selector("body[data-ready='1']")
    assert await page.text_content("#out") == "user 77"


async def test_a_page_shows_the_refusal_in_the_browser_language(probe: Probe, page: Page) -> None:
    stale = sign_init_data(
        probe.token, telegram_user(5), auth_date=datetime.now(UTC) - timedelta(hours=2)
    )
    await page.goto(probe.base_url + "/app/probe" + fragment(stale))
    await page.wait_for_selector("body[data-ready='1']")
    assert "expired" in (await page.text_content("#out") or "")
