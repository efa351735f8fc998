"""The statistics screen and its chart."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import BufferedInputFile, CallbackQuery
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.base import utcnow
from bot.db.models import User
from bot.db.models.admin import AuditResult
from bot.i18n import I18n
from bot.settings import Settings
from handlers.admin.panel import Panel
from keyboards import admin as kb
from keyboards.admin import AdminAction, AdminCD
from services.admin import operations, stats
from services.admin.audit import AuditAction
from services.admin.chart import ChartLabels, render_png_async
from services.admin.service import AdminService


def na(i18n: I18n, value: object | None) -> object:
    return i18n("admin-na") if value is None else value


async def on_stats(
    query: CallbackQuery, session: AsyncSession, user: User, admin: AdminService, panel: Panel
) -> None:
    o = await stats.overview(session, admin.ports, utcnow())
    await operations.note(session, admin, user.id, AuditAction.STATS, AuditResult.OK)
    i18n = panel.i18n
    usage = o.usage_today
    await panel.show(
        i18n(
            "admin-stats",
            total=o.users_total,
            new=o.new_today,
            active24=o.active_24h,
            active7=o.active_7d,
            messages=na(i18n, usage.messages if usage else None),
            tokens=na(i18n, usage.tokens if usage else None),
            revenue_today=na(i18n, o.revenue_today),
            revenue_30=na(i18n, o.revenue_30d),
            logservers=na(i18n, o.log_servers),
            queue=o.queue_depth,
        ),
        kb.stats(i18n),
    )


async def on_chart(
    query: CallbackQuery,
    session: AsyncSession,
    user: User,
    settings: Settings,
    admin: AdminService,
    panel: Panel,
) -> None:
    series = await stats.chart_series(session, admin.ports, utcnow(), settings.admin.chart_days)
    await operations.note(session, admin, user.id, AuditAction.CHART, AuditResult.OK)
    i18n = panel.i18n
    png = await render_png_async(series, _chart_labels(i18n, series))
    caption = i18n(
        "admin-chart-caption",
        days=len(series.days),
        active=sum(series.active_users),
        peak=max(series.active_users),
        revenue=na(i18n, sum(series.revenue) if series.revenue is not None else None),
    )
    await panel.bot.send_photo(
        panel.chat_id, BufferedInputFile(png, filename="stats.png"), caption=caption
    )


def _chart_labels(i18n: I18n, series: stats.ChartSeries) -> ChartLabels:
    # Drawn into the image, not sent as HTML: the catalogue text unescaped.
    locale = i18n.locale
    return ChartLabels(
        title=i18n.translator.get(
            locale,
            "admin-chart-title",
            start=series.days[0].isoformat(),
            end=series.days[-1].isoformat(),
        ),
        active=i18n.translator.get(locale, "admin-chart-active"),
        revenue=i18n.translator.get(locale, "admin-chart-revenue"),
    )


def setup() -> Router:
    router = Router(name="admin-stats")
    router.callback_query.register(on_stats, AdminCD.filter(F.action == AdminAction.STATS))
    router.callback_query.register(on_chart, AdminCD.filter(F.action == AdminAction.CHART))
    return router
