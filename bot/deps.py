"""Application-wide dependencies, handed to the Dispatcher as keyword arguments.

A handler names what it needs (`settings: Settings`, `kv: KeyValueState`); each feature that
adds a long-lived service adds its field here and sets it in `bot/app.py`.
"""

from __future__ import annotations

from typing import TypedDict

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.i18n import Translator
from bot.metrics import Metrics
from bot.scheduler import Scheduler
from bot.settings import Settings
from bot.state import KeyValueState
from services.admin.service import AdminService
from services.ai.chat import AIService
from services.concierge import ConciergeService
from services.crypto.service import CryptoService
from services.dashboard.service import DashboardService
from services.logserver import LogServerService
from services.logserver.delivery import DeliveryWorker
from services.payments import Payments
from services.rooms import RoomService


class AppDeps(TypedDict):
    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    translator: Translator
    # not `state`: aiogram injects the FSM context under that name
    kv: KeyValueState
    metrics: Metrics
    # OpenPGP engine, field encryption, server signing key (ContextLock via crypto.context_lock)
    crypto: CryptoService
    # personal log servers: `await logserver.record(user_id, kind, body)` (services/logserver)
    logserver: LogServerService
    log_delivery: DeliveryWorker
    # operators' panel: stats, user management, broadcast worker, audit trail
    admin: AdminService
    # AI chat: providers, context, metering, streaming (services/ai)
    ai: AIService
    # AI rooms in groups: roles, settings, room budget, queue (services/rooms)
    rooms: RoomService
    # Concierge: personas run by staff from the staff desk (services/concierge)
    concierge: ConciergeService
    # Stars payments: catalogue, refund policy, billing log (services/payments)
    payments: Payments
    # operators' dashboard Mini App: snapshot of figures, live events (services/dashboard)
    dashboard: DashboardService
    # background jobs (status for the admin health panel)
    scheduler: Scheduler
