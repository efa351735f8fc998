"""The one place that wires Libral together.

settings → database → shared state → translator/metrics → Bot → Dispatcher (dependencies,
middlewares, routers) → polling or webhook. Read this file to see the whole application.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from time import monotonic

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import (
    TelegramNetworkError,
    TelegramNotFound,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.fsm.storage.redis import RedisStorage
from aiogram.types import LinkPreviewOptions
from aiohttp import web
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot import commands
from bot.db import migrate
from bot.db.engine import create_engine, create_sessionmaker
from bot.db.transactions import TransactionGuard
from bot.deps import AppDeps
from bot.i18n import Translator
from bot.metrics import Metrics
from bot.scheduler import Scheduler
from bot.sendbudget import SendBudgetMiddleware
from bot.settings import Settings
from bot.state import MAX_TTL_SECONDS, KeyValueState, create_state
from bot.web import HealthProbe, create_web_app
from bot.webapp.routes import build_webapp
from bot.webapp.routes import dashboard as dashboard_routes
from bot.webapp.server import WebApp
from handlers import get_routers
from handlers.onboarding import panel_editor
from keyboards import CALLBACK_DATA
from middlewares.ban import BanMiddleware
from middlewares.callbacks import AnswerTracker, CallbackGuard
from middlewares.context import SessionMiddleware, ToldAfterCommit, UserContextMiddleware
from middlewares.filters import run_magic_filters_inline
from middlewares.throttling import ThrottlingMiddleware
from middlewares.updates import (
    DeduplicateMiddleware,
    ErrorBoundaryMiddleware,
    InFlightMiddleware,
    MetricsMiddleware,
)
from middlewares.users import DIRECTORY_INFO_KEY, UserDirectory
from services.admin.service import AdminService
from services.admin.wiring import build_ports as admin_ports
from services.ai.admin_port import attach as attach_ai_ports
from services.ai.chat import AIService
from services.ai.jobs import release_stale
from services.concierge import ConciergeService
from services.crypto.fields import FieldCipher
from services.crypto.service import CryptoService
from services.dashboard.service import DashboardService
from services.dashboard.wiring import build_sources as dashboard_sources
from services.logserver import LogServerService
from services.logserver.delivery import DeliveryWorker
from services.logserver.keys import check_keys_tick
from services.payments import Payments
from services.payments.admin_port import attach as attach_payment_ports
from services.payments.billing import LogServerBilling
from services.payments.jobs import credit_pending_tick, reconcile_tick
from services.ports import TelegramPort
from services.retention.jobs import purge_tick
from services.rooms import RoomService
from services.sendbudget import SendBudget

log = logging.getLogger(__name__)


@dataclass
class Application:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    state: KeyValueState
    redis: Redis | None
    translator: Translator
    metrics: Metrics
    bot: Bot
    dispatcher: Dispatcher
    scheduler: Scheduler
    webapp: WebApp
    send_budget: SendBudget
    transactions: TransactionGuard
    started_at: float = field(default_factory=monotonic)

    def allowed_updates(self) -> list[str]:
        return self.dispatcher.resolve_used_update_types()


def build(settings: Settings) -> Application:
    engine = create_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_timeout=settings.database_pool_timeout,
    )
    sessionmaker = create_sessionmaker(engine)
    state, redis = create_state(settings.redis_url, settings.redis_prefix)
    translator = Translator(default_locale=settings.default_locale)
    metrics = Metrics()

    session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
    # One send budget for every Bot API call of every instance (shared through Redis).
    send_budget = SendBudget.build(
        settings.sendbudget,
        redis,
        settings.redis_prefix,
        secret=settings.bot_token.get_secret_value().encode(),
    )
    # Observes only: no Bot API call while the update's changes are still uncommitted.
    transactions = TransactionGuard()
    session.middleware(ToldAfterCommit(transactions))
    session.middleware(SendBudgetMiddleware(send_budget))
    # Observes only: which presses were answered, for the error boundary's last word.
    session.middleware(AnswerTracker())
    bot = Bot(
        settings.bot_token.get_secret_value(),
        session=session,
        default=DefaultBotProperties(
            parse_mode=ParseMode.HTML, link_preview=LinkPreviewOptions(is_disabled=True)
        ),
    )

    # What the services get of Telegram: this same bot (its session carries the send budget)
    # through the ports of services/ports.py, which aiogram's Bot satisfies as it is.
    telegram: TelegramPort = bot

    storage: BaseStorage
    if redis is not None:
        # FSM data can hold a half-typed message: it expires like everything else in Redis.
        storage = RedisStorage(
            redis,
            key_builder=DefaultKeyBuilder(prefix=settings.redis_prefix + "fsm"),
            state_ttl=MAX_TTL_SECONDS,
            data_ttl=MAX_TTL_SECONDS,
        )
    else:
        storage = MemoryStorage()

    # Background jobs; each feature adds its own with `scheduler.add(...)` (see bot/scheduler.py).
    scheduler = Scheduler(state)
    scheduler.add(
        "retention.purge",
        purge_tick,
        every=timedelta(seconds=settings.retention.purge_interval_seconds),
        sessionmaker=sessionmaker,
        retention=settings.retention,
        redis=redis,
        redis_prefix=settings.redis_prefix,
    )

    # This process among several (broadcast leases, dashboard events).
    instance = uuid.uuid4().hex[:16]
    crypto = CryptoService.build(settings.crypto)
    logserver = LogServerService(sessionmaker, crypto, state, settings.logserver, send_budget)
    log_delivery = DeliveryWorker(
        logserver,
        telegram,
        translator,
        panel=panel_editor(bot, logserver, translator, sessionmaker),
    )
    admin = AdminService.build(
        settings.admin,
        bot=telegram,
        sessionmaker=sessionmaker,
        translator=translator,
        kv=state,
        crypto=crypto,
        ports=admin_ports(
            retention=settings.retention,
            redis_prefix=settings.redis_prefix,
            sessionmaker=sessionmaker,
            kv=state,
            scheduler=scheduler,
        ),
        owner=instance,
    )
    payments = Payments(settings.payments, billing=LogServerBilling(logserver))
    attach_payment_ports(admin.ports, stars=bot, billing=payments.billing)
    if settings.payments.reconcile_hours:
        scheduler.add(
            "payments.reconcile",
            reconcile_tick,
            every=timedelta(hours=settings.payments.reconcile_hours),
            sessionmaker=sessionmaker,
            stars=bot,
            # Charges never credited, or never delivered, are credited and the user told.
            catalogue=payments.catalogue,
            billing=payments.billing,
            notify=log_delivery.notify,
        )
    # Crediting a recorded charge is retried until it succeeds, not only by the daily job.
    scheduler.add(
        "payments.credit_pending",
        credit_pending_tick,
        every=timedelta(minutes=5),
        sessionmaker=sessionmaker,
        billing=payments.billing,
        notify=log_delivery.notify,
    )
    # AI chat: fields encrypted with the crypto service's cipher; exchanges go to the log server
    ai = AIService(settings.ai, sessionmaker, crypto.fields, exchange_log=logserver)
    attach_ai_ports(admin.ports, ai)
    # Linked keys checked daily for expiry and revocation (the rule: services/logserver/keys.py)
    scheduler.add(
        "logserver.keys",
        check_keys_tick,
        every=timedelta(hours=24),
        logserver=logserver,
        notify=log_delivery.notify,
    )
    scheduler.add(
        "ai.release_stale",
        release_stale,
        every=timedelta(minutes=10),
        sessionmaker=sessionmaker,
        ai=settings.ai,
    )
    # AI rooms answer through the AI service's providers and meter; exchanges go to the Master's
    # log server
    rooms = RoomService(settings.rooms, ai, sessionmaker, exchange_log=logserver)
    # Concierge: staff answer as personas from the desk; drafts through the AI providers,
    # transcripts to the user's log server
    concierge = ConciergeService(
        settings.concierge, crypto.fields, logserver, ai, send_budget, state
    )
    # Operators' dashboard Mini App: figures, runtime state, live traffic across instances
    dashboard = DashboardService.build(
        settings.dashboard,
        sources=dashboard_sources(
            HealthProbe(engine, state, metrics, redis_configured=redis is not None).check,
            scheduler=scheduler,
            providers=ai.status,
        ),
        counts=metrics.update_counts,
        redis=redis,
        channel=settings.redis_prefix + "dash:events",
        instance=instance,
    )
    deps = AppDeps(
        settings=settings,
        sessionmaker=sessionmaker,
        translator=translator,
        kv=state,
        metrics=metrics,
        scheduler=scheduler,
        crypto=crypto,
        logserver=logserver,
        log_delivery=log_delivery,
        admin=admin,
        ai=ai,
        rooms=rooms,
        concierge=concierge,
        payments=payments,
        dashboard=dashboard,
    )
    dispatcher = Dispatcher(storage=storage, **deps)
    in_flight = InFlightMiddleware()
    # First of the shutdown handlers: the services stay up until the updates in hand are done.
    dispatcher.shutdown.register(in_flight.drain)
    # Both polling and webhook modes emit these.
    dispatcher.startup.register(scheduler.start)
    dispatcher.startup.register(partial(crypto.start, sessionmaker))
    # after crypto: records are sealed with the server key
    dispatcher.startup.register(log_delivery.on_startup)
    # after crypto: the audit publisher signs with the server key
    dispatcher.startup.register(admin.start)
    dispatcher.shutdown.register(admin.stop)
    dispatcher.shutdown.register(log_delivery.stop)
    dispatcher.shutdown.register(scheduler.shutdown)
    dispatcher.startup.register(ai.start)
    dispatcher.shutdown.register(ai.aclose)
    dispatcher.startup.register(dashboard.start)
    dispatcher.shutdown.register(dashboard.stop)

    # Who sent an update, cached per process and evicted on every instance when a commit changes
    # the user (so a ban or a language change holds at once).
    directory = UserDirectory(
        sessionmaker,
        redis=redis,
        channel=settings.redis_prefix + "users:changed",
        on_seen=admin.activity,
        username_digest=admin.activity.hasher,
    )
    sessionmaker.configure(info={DIRECTORY_INFO_KEY: directory})
    dispatcher.startup.register(directory.start)
    dispatcher.shutdown.register(directory.stop)

    # Outer update middlewares run in this order, around everything else. The cheap refusals
    # (duplicate, throttled) come before any database work; aiogram's FSM middleware (a state read
    # in Redis) is moved after them, and inside the error boundary, so a Redis failure there is
    # retried like any other.
    dispatcher.update.outer_middleware.unregister(dispatcher.fsm)
    dispatcher.update.outer_middleware(in_flight)
    dispatcher.update.outer_middleware(MetricsMiddleware(metrics))
    dispatcher.update.outer_middleware(
        ErrorBoundaryMiddleware(translator, metrics, stopping=in_flight.stopping)
    )
    throttling = ThrottlingMiddleware(
        state,
        metrics,
        rate=settings.throttle_rate,
        burst=settings.throttle_burst,
        directory=directory,
        translator=translator,
    )
    # De-duplication claims the update and counts its sender's rate in one round trip.
    dispatcher.update.outer_middleware(
        DeduplicateMiddleware(state, metrics, lease=settings.update_lease_seconds, rate=throttling)
    )
    dispatcher.update.outer_middleware(throttling)
    dispatcher.update.outer_middleware(dispatcher.fsm)
    dispatcher.update.outer_middleware(UserContextMiddleware(directory, translator))
    dispatcher.update.outer_middleware(BanMiddleware(settings))
    # Every press is parsed and checked against its message before any filter or handler.
    dispatcher.callback_query.outer_middleware(CallbackGuard(CALLBACK_DATA))
    # Inner: after the filters chose a handler, and only if it asks for `session` or `user`.
    session_middleware = SessionMiddleware(sessionmaker, directory, transactions)
    for name, observer in dispatcher.observers.items():
        if name not in {"update", "error"}:
            observer.middleware(session_middleware)

    dispatcher.include_routers(*get_routers())
    run_magic_filters_inline(dispatcher)
    # The Mini App pages and API on the same HTTP server (docs/webapp.md).
    # A refused dashboard request is an admin audit record (bot/webapp/routes/dashboard.py).
    webapp = build_webapp(
        settings.webapp, bot=bot, deps=deps, on_refused=dashboard_routes.refusal_auditor(deps)
    )

    return Application(
        settings=settings,
        engine=engine,
        sessionmaker=sessionmaker,
        state=state,
        redis=redis,
        translator=translator,
        metrics=metrics,
        bot=bot,
        dispatcher=dispatcher,
        scheduler=scheduler,
        webapp=webapp,
        send_budget=send_budget,
        transactions=transactions,
    )


class StartupError(Exception):
    """Start-up failed for a reason the operator can fix; the message says which, in one line
    (`python -m bot` prints it and exits 2, without a traceback)."""


async def check_telegram(app: Application) -> None:
    """getMe first: a wrong token or an unreachable API is reported before anything else runs."""
    api = app.settings.telegram_api_url
    try:
        await app.bot.me()
    except (TelegramUnauthorizedError, TelegramNotFound):
        # Telegram answers 401 for a revoked or invented token, 404 for a malformed one.
        raise StartupError(
            "Telegram refused BOT_TOKEN (Unauthorized): put the token @BotFather gave you into "
            "BOT_TOKEN in .env (the one from .env.example is only an example)"
        ) from None
    except TelegramNetworkError as exc:
        raise StartupError(
            f"cannot reach the Telegram Bot API at {api} ({exc.message}): check the network, "
            "a proxy or firewall, or TELEGRAM_API_URL"
        ) from None
    except TelegramServerError as exc:
        raise StartupError(
            f"the Telegram Bot API at {api} answered {exc.message}: try again in a minute"
        ) from None


async def prepare(app: Application) -> None:
    """Everything that must hold before the first update is handled."""
    await check_telegram(app)
    if app.settings.migrate_on_start:
        cipher = FieldCipher.from_settings(app.settings.crypto)  # data migrations encrypt with it
        await migrate.upgrade(app.engine, attributes={"field_cipher": cipher})
    await commands.publish(app.bot, app.translator)


async def run(app: Application, stop: asyncio.Event) -> None:
    """Serve until `stop` is set, then shut down cleanly.

    A start-up failure the operator can fix raises `StartupError`; everything opened so far
    (the HTTP session to Telegram, the database pool) is closed first either way.
    """
    settings = app.settings
    probe = HealthProbe(app.engine, app.state, app.metrics, redis_configured=app.redis is not None)
    runner: web.AppRunner | None = None
    polling: asyncio.Task[None] | None = None
    started = False  # webhook mode: the startup handlers ran, so the shutdown handlers must run
    try:
        await prepare(app)
        if settings.use_webhook:
            assert settings.webhook_url is not None
            assert settings.webhook_secret is not None
            secret = settings.webhook_secret.get_secret_value()
            web_app = create_web_app(
                probe,
                dispatcher=app.dispatcher,
                bot=app.bot,
                webhook_path=settings.webhook_path,
                webhook_secret=secret,
                webapp=app.webapp.create(),
            )
            # Services start before the first update can arrive: Telegram may hold a queue.
            await app.dispatcher.emit_startup(bot=app.bot, **app.dispatcher.workflow_data)
            started = True
            runner = await _start_http(web_app, settings)
            await app.bot.set_webhook(
                settings.webhook_url,
                secret_token=secret,
                allowed_updates=app.allowed_updates(),
            )
            log.info("webhook mode at %s", settings.webhook_url)
            await stop.wait()
        else:
            if settings.http_enabled:
                runner = await _start_http(
                    create_web_app(probe, webapp=app.webapp.create()), settings
                )
            await app.bot.delete_webhook(drop_pending_updates=False)
            polling = asyncio.create_task(
                app.dispatcher.start_polling(
                    app.bot,
                    allowed_updates=app.allowed_updates(),
                    handle_signals=False,
                    close_bot_session=False,
                )
            )
            log.info("long polling")
            stopped = asyncio.create_task(stop.wait())
            await asyncio.wait({polling, stopped}, return_when=asyncio.FIRST_COMPLETED)
            stopped.cancel()
            if polling.done():
                polling.result()  # polling died on its own: surface why
    finally:
        if polling is not None and not polling.done():
            await app.dispatcher.stop_polling()
            await polling
        if started:
            await app.dispatcher.emit_shutdown(bot=app.bot, **app.dispatcher.workflow_data)
        if runner is not None:
            await runner.cleanup()
        await close(app)


async def _start_http(web_app: web.Application, settings: Settings) -> web.AppRunner:
    runner = web.AppRunner(web_app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, settings.http_host, settings.http_port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        # Polling mode opens it too (the Mini App and /healthz): say how to move or turn it off.
        hint = "" if settings.use_webhook else ", or HTTP_ENABLED=false if you need no Mini App"
        raise StartupError(
            f"cannot listen on {settings.http_host}:{settings.http_port} ({exc.strerror}): another "
            f"program uses this port; choose another with HTTP_PORT{hint}"
        ) from None
    return runner


async def close(app: Application) -> None:
    # Replies still waiting for their chat's slot go out before the session closes.
    await app.send_budget.drain(app.settings.sendbudget.drain_seconds)
    await app.dispatcher.storage.close()
    await app.bot.session.close()
    await app.state.close()
    await app.engine.dispose()
