"""`/admin` and the panel's menu."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message

from bot.db.models import User
from handlers.admin.panel import Panel, PanelData
from handlers.admin.routing import Routes
from keyboards import admin as kb
from keyboards.admin import AdminAction, AdminCD, Unavailable
from services.admin.audit import AuditAction

routes = Routes("admin-menu")

_UNAVAILABLE: dict[str, str] = {
    Unavailable.PAYMENTS: "admin-payments-unavailable",
    Unavailable.PURGE: "admin-purge-unavailable",
}


async def show_menu(panel: Panel) -> None:
    await panel.state.set_state(None)
    panel.data.pending = None
    panel.data.draft = None
    await panel.save()
    ports = panel.admin.ports
    await panel.show(
        panel.i18n("admin-menu"),
        kb.menu(
            panel.i18n,
            payments=ports.recent_payments is not None and ports.refund is not None,
            dashboard_url=panel.settings.webapp.page_url("dashboard"),
        ),
    )


routes.screen(AdminAction.MENU, show_menu)


@routes.command(Command("admin"))
async def open_panel(message: Message, user: User, panel: Panel) -> None:
    await panel.state.clear()
    panel.data = PanelData()  # a new panel message
    await panel.ops.note(AuditAction.OPEN)
    await show_menu(panel)


@routes.button(AdminAction.DISABLED)
async def on_disabled(
    query: CallbackQuery, callback_data: AdminCD, user: User, panel: Panel
) -> None:
    await panel.alert(panel.i18n(_UNAVAILABLE.get(callback_data.ref, "error-button-expired")))


def setup() -> Router:
    return routes.router()
