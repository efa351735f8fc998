"""The statistics screen and its chart."""

from __future__ import annotations

from aiogram import Router
from aiogram.types import BufferedInputFile, CallbackQuery

from bot.db.base import utcnow
from bot.db.models import User
from bot.i18n import I18n
from handlers.admin.panel import Panel
from handlers.admin.routing import Routes
from keyboards import admin as kb
from keyboards.admin import AdminAction
from services.admin import stats
from services.admin.audit import AuditAction
from services.admin.chart import ChartLabels, render_png_async

routes = Routes("admin-stats")


def na(i18n: I18n, value: object | None) -> object:
    return i18n("admin-na") if value is None else value


@routes.button(AdminAction.STATS)
async def on_stats(query: CallbackQuery, user: User, panel: Panel) -> None:
    o = await stats.overview(panel.session, panel.admin.ports, utcnow())
    await panel.ops.note(AuditAction.STATS)
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


@routes.button(AdminAction.CHART)
async def on_chart(query: CallbackQuery, user: User, panel: Panel) -> None:
    days = panel.settings.admin.chart_days
    series = await stats.chart_series(panel.session, panel.admin.ports, utcnow(), days)
    await panel.ops.note(AuditAction.CHART)
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
    return routes.router()
