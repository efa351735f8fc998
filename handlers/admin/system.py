"""The system screen: health, queues, jobs, providers; and purging what expired, now."""

from __future__ import annotations

from datetime import UTC, timedelta

from aiogram import Router
from aiogram.types import CallbackQuery

from bot.db.models import User
from bot.i18n import Html
from handlers.admin.panel import Panel, PendingPurge
from handlers.admin.routing import Routes
from keyboards import admin as kb
from keyboards.admin import AdminAction, Confirm
from services.admin import operations
from services.admin.audit import AuditAction
from services.admin.health import system_status

routes = Routes("admin-system")


async def show_system(panel: Panel, notice: str | None = None) -> None:
    admin = panel.admin
    status = await system_status(
        panel.session, panel.kv, admin.ports, redis_configured=panel.settings.redis_url is not None
    )
    await panel.ops.note(AuditAction.SYSTEM)
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


routes.screen(AdminAction.SYSTEM, show_system)


@routes.button(AdminAction.PURGE)
async def on_purge(query: CallbackQuery, user: User, panel: Panel) -> None:
    if panel.admin.ports.purge_now is None:
        await panel.alert(panel.i18n("admin-purge-unavailable"))
        return
    await panel.confirm(PendingPurge(), panel.i18n("admin-confirm-purge"), AdminAction.SYSTEM)


@routes.confirmation(Confirm.PURGE)
async def on_confirm_purge(
    query: CallbackQuery, user: User, panel: Panel, pending: PendingPurge
) -> None:
    try:
        removed = await panel.ops.purge()
    except operations.Unavailable:
        await panel.alert(panel.i18n("admin-purge-unavailable"))
        return
    except operations.PurgeFailed:
        notice = panel.i18n("admin-purge-failed")
    else:
        notice = panel.i18n("admin-purged", count=removed)
    await show_system(panel, notice)


def setup() -> Router:
    return routes.router()
