"""`/admin` and the panel's menu."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import User
from bot.db.models.admin import AuditResult
from bot.settings import Settings
from handlers.admin.panel import Panel, PanelData
from keyboards import admin as kb
from keyboards.admin import AdminAction, AdminCD, Unavailable
from services.admin import operations
from services.admin.audit import AuditAction
from services.admin.service import AdminService

_UNAVAILABLE: dict[str, str] = {
    Unavailable.PAYMENTS: "admin-payments-unavailable",
    Unavailable.PURGE: "admin-purge-unavailable",
}


def payments_available(admin: AdminService) -> bool:
    return admin.ports.recent_payments is not None and admin.ports.refund is not None


async def show_menu(panel: Panel, settings: Settings, admin: AdminService) -> None:
    await panel.state.set_state(None)
    panel.data.pending = None
    panel.data.draft = None
    await panel.save()
    await panel.show(
        panel.i18n("admin-menu"),
        kb.menu(
            panel.i18n,
            payments=payments_available(admin),
            dashboard_url=settings.webapp.page_url("dashboard"),
        ),
    )


async def open_panel(
    message: Message,
    session: AsyncSession,
    user: User,
    settings: Settings,
    admin: AdminService,
    state: FSMContext,
    panel: Panel,
) -> None:
    await state.clear()
    panel.data = PanelData()  # a new panel message
    await operations.note(session, admin, user.id, AuditAction.OPEN, AuditResult.OK)
    await show_menu(panel, settings, admin)


async def on_menu(
    query: CallbackQuery, user: User, settings: Settings, admin: AdminService, panel: Panel
) -> None:
    await show_menu(panel, settings, admin)


async def on_disabled(
    query: CallbackQuery, callback_data: AdminCD, user: User, panel: Panel
) -> None:
    await panel.alert(panel.i18n(_UNAVAILABLE.get(callback_data.ref, "error-button-expired")))


def setup() -> Router:
    router = Router(name="admin-menu")
    router.message.register(open_panel, Command("admin"))
    router.callback_query.register(on_menu, AdminCD.filter(F.action == AdminAction.MENU))
    router.callback_query.register(on_disabled, AdminCD.filter(F.action == AdminAction.DISABLED))
    return router
