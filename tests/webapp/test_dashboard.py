"""The operators' dashboard Mini App in headless Debian chromium, against the real application
(its HTTP server, PostgreSQL and Redis when configured) and the Bot API emulator.

An operator opens it from the `/admin` panel's `web_app` button, sees the figures the database
holds, sees the live counter move when a user's update goes through the emulator, and leaves a
Japanese screenshot under the test's output directory. Forged, stale, missing and non-operator
initData are refused with 403 and leave an audit record; so is a demoted operator's stream.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Browser, Page
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.base import utcnow
from bot.db.engine import create_sessionmaker
from bot.db.models import User, UserRole
from bot.db.models.admin import AuditEvent, AuditResult
from bot.db.models.payments import Payment, PaymentKind, PaymentStatus
from bot.i18n import Translator
from bot.settings import Settings
from services.dashboard.config import DashboardSettings
from services.dashboard.events import RedisBus, TrafficTicker
from tests.emulator.actors import UserActor
from tests.emulator.server import BotAPIEmulator
from tests.harness import eventually, run_bot
from tests.webapp.conftest import Served
from tests.webapp.support import fragment, sign_init_data, telegram_user

OPERATOR = 910_000_001
T = Translator()


@pytest.fixture
async def dashboard(
    emulator: BotAPIEmulator, webapp_settings: Callable[..., Settings]
) -> AsyncIterator[Served]:
    settings = webapp_settings(
        admin_ids=frozenset({OPERATOR}),
        throttle_rate=1000.0,
        throttle_burst=100_000,
        # Ticks and heartbeats come quickly so that the test waits less (it never sleeps).
        dashboard=DashboardSettings(tick_seconds=0.2, heartbeat_seconds=0.5),
    )
    async with run_bot(emulator, settings) as app:
        yield Served(app, f"http://127.0.0.1:{settings.http_port}")


def sessions_of(served: Served) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(served.app.engine)


async def started(
    emulator: BotAPIEmulator, served: Served, name: str, user_id: int, lang: str
) -> UserActor:
    """A user who sent /start, once their row is committed (the reply goes out before it)."""
    user = emulator.create_user(name, user_id=user_id, language_code=lang)
    sent = await user.send_text("/start")
    # Generous: the first update after start-up is slow on a loaded machine.
    await user.wait_reply(timeout=60, after=sent)
    sessions = sessions_of(served)

    async def stored() -> bool:
        async with sessions() as s:
            return await s.get(User, user_id) is not None

    await eventually(stored, f"user {user_id} stored")
    return user


async def expected_figures(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    """The figures as the database holds them (24-hour window), counted here independently."""
    now = utcnow()
    since = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=23)
    async with sessions() as s:
        users = await s.scalar(select(func.count()).select_from(User))
        new = await s.scalar(select(func.count()).where(User.created_at >= since))
        active = await s.scalar(select(func.count()).where(User.last_seen_at >= since))
        stars = await s.scalar(
            select(func.coalesce(func.sum(Payment.stars), 0)).where(
                Payment.created_at >= since, Payment.status == PaymentStatus.PAID
            )
        )
    return {
        "fig-users": int(users or 0),
        "fig-new": int(new or 0),
        "fig-active": int(active or 0),
        "fig-stars": int(stars or 0),
    }


async def shown(page: Page, element_id: str) -> int:
    value = await page.get_attribute(f"#{element_id}", "data-value")
    assert value is not None, element_id
    return int(value)


async def wait_figures(page: Page, expected: dict[str, int]) -> None:
    await page.wait_for_function(
        """(expected) => Object.entries(expected).every(
            ([id, value]) => document.getElementById(id).dataset.value === String(value))""",
        arg=expected,
        timeout=30_000,
    )


async def dashboard_button(emulator: BotAPIEmulator, operator: UserActor) -> str:
    sent = await operator.send_text("/admin")
    panel = await operator.wait_reply(timeout=60, after=sent)
    urls: list[str] = [b["web_app"]["url"] for b in panel.inline_buttons if "web_app" in b]
    assert urls == ["https://libral.test/app/dashboard"]
    label = [b["text"] for b in panel.inline_buttons if "web_app" in b]
    assert label == [T.get("ja", "dashboard-btn-open")]
    return urls[0]


async def test_an_operator_sees_the_database_figures_live_in_japanese(
    emulator: BotAPIEmulator, dashboard: Served, browser: Browser, tmp_path: Path
) -> None:
    sessions = sessions_of(dashboard)
    operator = await started(emulator, dashboard, "Operator", OPERATOR, "ja")
    for n in range(3):
        await started(emulator, dashboard, f"User {n}", 920_000_000 + n, "en")
    async with sessions() as s:
        for n, stars in enumerate((50, 120, 999)):
            s.add(
                Payment(
                    charge_id=f"dash-{n}",
                    user_id=920_000_000 + n,
                    kind=PaymentKind.PACK,
                    item_id="p1",
                    item_version="1",
                    stars=stars,
                    credits=stars,
                    status=PaymentStatus.REFUNDED if stars == 999 else PaymentStatus.PAID,
                )
            )
        await s.commit()
    url = await dashboard_button(emulator, operator)

    context = await browser.new_context(locale="ja-JP", viewport={"width": 1000, "height": 900})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        init = sign_init_data(dashboard.app.bot.token, telegram_user(OPERATOR, "ja"))
        await page.goto(dashboard.local(url) + fragment(init))
        await page.wait_for_selector("body[data-ready='1']", timeout=30_000)
        await page.wait_for_selector("#live[data-state='on']", timeout=30_000)
        assert await page.title() == T.get("ja", "webapp-dashboard-title")
        assert await page.text_content("h1") == "運用ダッシュボード"

        expected = await expected_figures(sessions)
        assert expected["fig-users"] == 4
        assert expected["fig-stars"] == 170  # the refunded payment is not revenue
        await wait_figures(page, expected)
        health = await page.get_attribute("#health-database", "data-value")
        assert health == "ok"
        # The charts are drawn (Chart.js, vendored), one canvas each.
        drawn = await page.evaluate(
            "['chart-users','chart-usage','chart-stars']"
            ".map((id) => globalThis.Chart.getChart(document.getElementById(id)) !== undefined)"
        )
        assert drawn == [True, True, True]
        jobs = await page.eval_on_selector_all("#jobs tr[data-job]", "rows => rows.length")
        assert jobs >= 1

        # A new user's update goes through the emulator: the live counter moves, and the
        # figures follow the database.
        before = await shown(page, "live-updates")
        await started(emulator, dashboard, "Newcomer", 920_000_100, "en")
        await page.wait_for_function(
            "(before) => Number(document.getElementById('live-updates').dataset.value) > before",
            arg=before,
            timeout=30_000,
        )
        expected = await expected_figures(sessions)
        assert expected["fig-users"] == 5
        await wait_figures(page, expected)

        # The 7-day window shows the same users and the daily active-user line.
        await page.click("button[data-window='7d']")
        await page.wait_for_selector("body[data-window='7d']", timeout=30_000)
        assert await shown(page, "fig-users") == 5

        await page.click("button[data-window='24h']")
        await page.wait_for_selector("body[data-window='24h']", timeout=30_000)
        shot = tmp_path / "dashboard-ja.png"
        await page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        assert shot.read_bytes().startswith(b"\x89PNG")
    finally:
        await context.close()
    assert not errors, errors

    # Opening the dashboard was audited (the event stream), as an operator action.
    async with sessions() as s:
        opened = (
            await s.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == "dashboard", AuditEvent.result == AuditResult.OK
                )
            )
        ).all()
    assert opened
    assert all(e.actor_id == OPERATOR for e in opened)


async def api(
    served: Served, path: str, init_data: str | None, method: str = "GET"
) -> tuple[int, str]:
    headers = {"Authorization": "tma " + init_data} if init_data is not None else {}
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, served.base_url + path, headers=headers) as response,
    ):
        return response.status, await response.text()


REFUSALS: dict[str, Callable[[str], str | None]] = {
    "forged": lambda token: sign_init_data("123456:not-our-token", telegram_user(OPERATOR)),
    "stale": lambda token: sign_init_data(
        token, telegram_user(OPERATOR), auth_date=datetime.now(UTC) - timedelta(hours=1, minutes=1)
    ),
    "non-operator": lambda token: sign_init_data(token, telegram_user(920_000_050)),
    "missing": lambda token: None,
}
REASONS = {"forged": "invalid", "stale": "stale", "non-operator": "forbidden", "missing": "missing"}


@pytest.mark.parametrize("case", list(REFUSALS))
async def test_forged_stale_and_non_operator_init_data_are_refused_and_audited(
    case: str, emulator: BotAPIEmulator, dashboard: Served
) -> None:
    sessions = sessions_of(dashboard)
    await started(emulator, dashboard, "Operator", OPERATOR, "ja")
    await started(emulator, dashboard, "Someone", 920_000_050, "en")
    init = REFUSALS[case](dashboard.app.bot.token)
    paths = [
        ("GET", "/app/api/dashboard/snapshot?window=7d"),
        ("GET", "/app/api/dashboard/events"),
        ("POST", "/app/api/dashboard/panel"),
    ]
    for method, path in paths:
        status, body = await api(dashboard, path, init, method)
        assert status == 403, (path, body)
        assert json.loads(body) == {"error": REASONS[case]}
        assert "users" not in body
    async with sessions() as s:
        refused = (
            await s.scalars(
                select(AuditEvent).where(AuditEvent.action == "dashboard").order_by(AuditEvent.id)
            )
        ).all()
    assert [(e.result, e.target) for e in refused] == [(AuditResult.DENIED, REASONS[case])] * 3
    # Only a refusal whose initData was authentic names its user.
    actor = 920_000_050 if case == "non-operator" else 0
    assert {e.actor_id for e in refused} == {actor}
    # Nothing was posted to anyone.
    assert not [c for c in emulator.calls_to("sendMessage") if "admin" in json.dumps(c.params)]


async def test_the_page_tells_a_non_operator_they_may_not_look(
    emulator: BotAPIEmulator, dashboard: Served, page: Page
) -> None:
    await started(emulator, dashboard, "Someone", 920_000_050, "en")
    init = sign_init_data(dashboard.app.bot.token, telegram_user(920_000_050, "en"))
    await page.goto(dashboard.base_url + "/app/dashboard" + fragment(init))
    await page.wait_for_selector("body[data-ready='1']", timeout=30_000)
    assert await page.get_attribute("body", "data-refused") == "forbidden"
    assert await page.text_content("#status") == T.get("en", "webapp-refused-forbidden")
    assert await page.is_hidden("#content")


async def test_a_demoted_operator_loses_the_stream_and_the_panel_link_posts_the_panel(
    emulator: BotAPIEmulator, dashboard: Served
) -> None:
    sessions = sessions_of(dashboard)
    helper_id = 920_000_077
    helper = await started(emulator, dashboard, "Helper", helper_id, "en")
    async with sessions() as s:
        user = await s.get(User, helper_id)
        assert user is not None
        user.role = UserRole.ADMIN  # an operator by role, not by ADMIN_IDS
        await s.commit()
    init = sign_init_data(dashboard.app.bot.token, telegram_user(helper_id, "en"))

    # "Open the admin panel": the bot posts the panel into the operator's chat.
    status, body = await api(dashboard, "/app/api/dashboard/panel", init, "POST")
    assert (status, json.loads(body)) == (200, {"ok": True})
    menu = html.unescape(re.sub(r"<[^>]+>", "", T.get("en", "admin-menu"))).split("\n")[0]
    panel = await emulator.wait_until(
        lambda: next(
            (
                m
                for m in emulator.chat(helper.chat).messages.values()
                if (m.text or "").startswith(menu)
            ),
            None,
        ),
        what="the panel in the chat",
    )
    labels = [b["text"] for b in panel.inline_buttons]
    assert T.get("en", "admin-btn-stats") in labels
    assert T.get("en", "dashboard-btn-open") in labels

    headers = {"Authorization": "tma " + init}
    async with (
        aiohttp.ClientSession() as http,
        http.get(dashboard.base_url + "/app/api/dashboard/events", headers=headers) as response,
    ):
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        first = await response.content.readuntil(b"\n\n")
        assert first.startswith(b"event: ready\n")
        async with sessions() as s:
            user = await s.get(User, helper_id)
            assert user is not None
            user.role = UserRole.USER
            await s.commit()
        # At the next heartbeat the role is checked again and the stream ends.
        rest = await response.content.read()
    assert b"event: refused" in rest


async def test_traffic_of_another_instance_reaches_the_page_through_redis(
    emulator: BotAPIEmulator, dashboard: Served, browser: Browser, real_redis_url: str
) -> None:
    """A second instance (its own Redis connection and bus, the same channel) publishes its
    traffic; the page served by the first one counts it."""
    await started(emulator, dashboard, "Operator", OPERATOR, "ja")
    settings = dashboard.app.settings
    context = await browser.new_context(locale="ja-JP")
    page = await context.new_page()
    other = Redis.from_url(real_redis_url)
    bus = RedisBus(other, settings.redis_prefix + "dash:events")
    counts = {"message": 0}
    ticker = TrafficTicker(bus, lambda: counts, every=60, instance="other")
    try:
        init = sign_init_data(dashboard.app.bot.token, telegram_user(OPERATOR, "ja"))
        await page.goto(dashboard.base_url + "/app/dashboard" + fragment(init))
        await page.wait_for_selector("#live[data-state='on']", timeout=30_000)
        before = await shown(page, "live-updates")
        counts["message"] = 7
        assert await ticker.tick()
        await page.wait_for_function(
            "(n) => Number(document.getElementById('live-updates').dataset.value) >= n",
            arg=before + 7,
            timeout=30_000,
        )
    finally:
        await context.close()
        await bus.stop()
        await other.aclose()


async def test_the_live_stream_ends_when_the_init_data_turns_one_hour_old(
    emulator: BotAPIEmulator, dashboard: Served
) -> None:
    await started(emulator, dashboard, "Operator", OPERATOR, "ja")
    # Signed 59 min 50 s ago: accepted now, too old ten seconds later.
    signed = datetime.now(UTC) - timedelta(minutes=59, seconds=50)
    init = sign_init_data(dashboard.app.bot.token, telegram_user(OPERATOR), auth_date=signed)
    headers = {"Authorization": "tma " + init}
    async with (
        aiohttp.ClientSession() as http,
        http.get(dashboard.base_url + "/app/api/dashboard/events", headers=headers) as response,
    ):
        assert response.status == 200
        body = await response.content.read()
    assert body.startswith(b"event: ready\n")
    assert b"event: expired" in body
    # Reconnecting with the same initData is refused as stale (and audited).
    status, text = await api(dashboard, "/app/api/dashboard/events", init)
    assert (status, json.loads(text)) == (403, {"error": "stale"})


async def test_a_bad_window_and_an_unreachable_chat_are_answered_clearly(
    emulator: BotAPIEmulator, dashboard: Served
) -> None:
    sessions = sessions_of(dashboard)
    operator = await started(emulator, dashboard, "Operator", OPERATOR, "ja")
    init = sign_init_data(dashboard.app.bot.token, telegram_user(OPERATOR, "ja"))
    status, body = await api(dashboard, "/app/api/dashboard/snapshot?window=1y", init)
    assert (status, json.loads(body)) == (400, {"error": "window"})
    # The operator blocked the bot: the panel cannot be posted, and the page is told why.
    operator.block_bot()
    status, body = await api(dashboard, "/app/api/dashboard/panel", init, "POST")
    assert (status, json.loads(body)) == (502, {"error": "panel"})
    assert T.get("ja", "webapp-error-panel")
    async with sessions() as s:
        results = (
            await s.scalars(
                select(AuditEvent.result).where(
                    AuditEvent.action == "dashboard", AuditEvent.target == "panel"
                )
            )
        ).all()
    assert results == [AuditResult.FAILED]
