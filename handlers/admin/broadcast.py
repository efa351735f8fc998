"""Broadcast: compose, preview, choose the audience, confirm; the worker delivers it."""

from __future__ import annotations

from aiogram import Router
from aiogram.types import CallbackQuery, Message

from bot.db.base import utcnow
from bot.db.models import User
from bot.db.models.admin import AudienceKind
from bot.i18n import Html, I18n
from handlers.admin.panel import AdminStates, Panel, PendingBroadcast
from handlers.admin.routing import Routes
from keyboards import admin as kb
from keyboards.admin import AdminAction, AdminCD, Audiences, Confirm
from services.admin import broadcast

routes = Routes("admin-broadcast")

MAX_DAYS = 365

_AUDIENCES: dict[str, broadcast.Audience] = {
    Audiences.ALL: broadcast.Audience(AudienceKind.ALL),
    Audiences.JA: broadcast.Audience(AudienceKind.LOCALE, "ja"),
    Audiences.EN: broadcast.Audience(AudienceKind.LOCALE, "en"),
    Audiences.ACTIVE_7: broadcast.Audience(AudienceKind.ACTIVE, "7"),
    Audiences.ACTIVE_30: broadcast.Audience(AudienceKind.ACTIVE, "30"),
}


def _describe(i18n: I18n, audience: broadcast.Audience) -> str:
    if audience.kind is AudienceKind.LOCALE:
        return i18n("admin-aud-locale", lang=audience.value or "")
    if audience.kind is AudienceKind.ACTIVE:
        return i18n("admin-aud-active", days=int(audience.value or 0))
    return i18n("admin-aud-all")


async def ask_text(panel: Panel) -> None:
    await panel.ask(
        AdminStates.compose,
        panel.i18n("admin-bc-prompt", limit=broadcast.MAX_TEXT),
        kb.back_only(panel.i18n),
    )


routes.screen(AdminAction.BROADCAST, ask_text)


async def show_preview(panel: Panel, notice: str | None = None) -> None:
    body = panel.i18n("admin-bc-preview", text=Html(panel.data.draft or ""))
    if notice:
        body = f"{notice}\n\n{body}"
    await panel.show(body, kb.audience(panel.i18n))


routes.screen(AdminAction.PREVIEW, show_preview)


async def _confirm(panel: Panel, audience: broadcast.Audience) -> None:
    draft = panel.data.draft
    if not draft:
        await ask_text(panel)
        return
    await panel.state.set_state(None)
    default_locale = panel.settings.default_locale
    count = await broadcast.count_audience(panel.session, audience, utcnow(), default_locale)
    i18n = panel.i18n
    if count == 0:
        await show_preview(panel, i18n("admin-bc-nobody", audience=_describe(i18n, audience)))
        return
    await panel.confirm(
        PendingBroadcast(audience=audience.kind, value=audience.value),
        i18n(
            "admin-bc-confirm",
            audience=_describe(i18n, audience),
            count=count,
            rate=panel.settings.sendbudget.bulk_per_second,
            text=Html(draft),
        ),
        AdminAction.PREVIEW,
    )


@routes.prompt(AdminStates.compose)
async def on_text(message: Message, user: User, panel: Panel) -> None:
    i18n = panel.i18n
    if not message.text:
        await panel.show(i18n("admin-bc-text-only"), kb.back_only(i18n))
        return
    if len(message.text) > broadcast.MAX_TEXT:
        await panel.show(
            i18n("admin-bc-too-long", length=len(message.text), limit=broadcast.MAX_TEXT),
            kb.back_only(i18n),
        )
        return
    await panel.state.set_state(None)
    panel.data.draft = message.html_text
    await panel.save()
    await show_preview(panel)


@routes.button(AdminAction.AUDIENCE)
async def on_audience(
    query: CallbackQuery, callback_data: AdminCD, user: User, panel: Panel
) -> None:
    audience = _AUDIENCES.get(callback_data.ref)
    if audience is None:
        await panel.alert(panel.i18n("error-button-expired"))
        return
    await _confirm(panel, audience)


@routes.button(AdminAction.AUDIENCE_DAYS)
async def on_ask_days(query: CallbackQuery, user: User, panel: Panel) -> None:
    await panel.ask(
        AdminStates.days,
        panel.i18n("admin-days-prompt", max=MAX_DAYS),
        kb.back_only(panel.i18n, AdminAction.PREVIEW),
    )


@routes.prompt(AdminStates.days)
async def on_days(message: Message, user: User, panel: Panel) -> None:
    raw = (message.text or "").strip()
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_DAYS:
        await panel.show(
            panel.i18n("admin-days-invalid", max=MAX_DAYS),
            kb.back_only(panel.i18n, AdminAction.PREVIEW),
        )
        return
    await _confirm(panel, broadcast.Audience(AudienceKind.ACTIVE, str(int(raw))))


@routes.confirmation(Confirm.BROADCAST)
async def on_confirm(
    query: CallbackQuery, user: User, panel: Panel, pending: PendingBroadcast
) -> None:
    draft = panel.data.draft
    if not draft:
        await ask_text(panel)
        return
    bc = await panel.ops.start_broadcast(
        chat_id=panel.chat_id,
        locale=panel.i18n.locale,
        text=draft,
        audience=broadcast.Audience(pending.audience, pending.value),
        default_locale=panel.settings.default_locale,
    )
    panel.data.draft = None
    await panel.save()
    await panel.show(
        panel.i18n("admin-bc-started", id=str(bc.id), count=bc.total), kb.back_only(panel.i18n)
    )


def setup() -> Router:
    return routes.router()
