"""The system screen: health, queues, jobs, providers; and purging what expired, now."""

from __future__ import annotations

from datetime import UTC, timedelta

from aiogram import F, Router
from aiogram.types import CallbackQuery
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import User
from bot.db.models.admin import AuditResult
from bot.i18n import Html
from bot.settings import Settings
from bot.state import KeyValueState
from handlers.admin.panel import Panel, PendingPurge
from keyboards import admin as kb
from keyboards.admin import AdminAction, AdminCD, Confirm
from services.admin import operations
from services.admin.audit import AuditAction
from services.admin.health import system_status
from services.admin.service import AdminService


async def show_system(
    panel: Panel,
    session: AsyncSession,
    user: User,
    settings: Settings,
    admin: AdminService,
    kv: KeyValueState,
    notice: str | None = None,
) -> None:
    status = await system_status(
        session, kv, admin.ports, redis_configured=settings.redis_url is not None
    )
    await operations.note(session, admin, user.id, AuditAction.SYSTEM, AuditResult.OK)
    i18n = panel.i18n
    ok, down = i18n("admin-ok"), i18n("admin-down")
    jobs = [
        i18n(
            "admin-sys-job",
            name=j.id,
            next=j.next_run.astimezone(UTC).strftime("%H:%M:%S") if j.next_run else "—",
            failures=j.failures,
        )
        for j in status.jobs
    ]
    providers = [i18n("admin-sys-provider", name=p.name, state=p.state) for p in status.providers]
    none = i18n("admin-sys-none")
    body = i18n(
        "admin-system",
        db=ok if status.database else down,
        redis=i18n("admin-sys-redis-off") if status.redis is None else ok if status.redis else down,
        queue=status.queue,
        jobs=Html("\n".join(jobs) if jobs else none),
        providers=Html("\n".join(providers) if providers else none),
        version=admin.version,
        uptime=str(timedelta(seconds=admin.uptime_seconds)),
    )
    if notice:
        body = f"{notice}\n\n{body}"
    await panel.show(body, kb.system(i18n, purge=admin.ports.purge_now is not None))


async def on_system(
    query: CallbackQuery,
    session: AsyncSession,
    user: User,
    settings: Settings,
    admin: AdminService,
    kv: KeyValueState,
    panel: Panel,
) -> None:
    await show_system(panel, session, user, settings, admin, kv)


async def on_purge(query: CallbackQuery, user: User, admin: AdminService, panel: Panel) -> None:
    if admin.ports.purge_now is None:
        await panel.alert(panel.i18n("admin-purge-unavailable"))
        return
    await panel.confirm(PendingPurge(), panel.i18n("admin-confirm-purge"), AdminAction.SYSTEM)


async def on_confirm_purge(
    query: CallbackQuery,
    callback_data: AdminCD,
    session: AsyncSession,
    user: User,
    settings: Settings,
    admin: AdminService,
    kv: KeyValueState,
    panel: Panel,
) -> None:
    if await panel.take(PendingPurge, callback_data.ref) is None:
        return
    try:
        removed = await operations.purge(session, admin, user.id)
    except operations.Unavailable:
        await panel.alert(panel.i18n("admin-purge-unavailable"))
        return
    except operations.PurgeFailed:
        notice = panel.i18n("admin-purge-failed")
    else:
        notice = panel.i18n("admin-purged", count=removed)
    await show_system(panel, session, user, settings, admin, kv, notice)


def setup() -> Router:
    router = Router(name="admin-system")
    on = router.callback_query.register
    on(on_system, AdminCD.filter(F.action == AdminAction.SYSTEM))
    on(on_purge, AdminCD.filter(F.action == AdminAction.PURGE))
    on(
        on_confirm_purge,
        AdminCD.filter((F.action == AdminAction.CONFIRM) & (F.arg == Confirm.PURGE)),
    )
    return router
