"""`/admin`: the operators' inline-button panel, one message edited in place.

Only operators (`ADMIN_IDS` or the admin role) see it; anyone else gets exactly the unknown-command
reply. Every button press and every reply to a prompt re-checks the role on the server, and
amounts, targets and pending confirmations live in the server-side FSM data, never in the
callback data. Destructive steps (deduct, ban, refund, broadcast, purge) ask for confirmation with
a single-use nonce. Every action, allowed or refused, is written to the audit trail.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardMarkup,
    Message,
)
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.base import utcnow
from bot.db.models import User
from bot.db.models.admin import AudienceKind, AuditResult
from bot.i18n import Html, I18n
from bot.settings import Settings
from bot.state import KeyValueState
from handlers import fallback
from keyboards import admin as kb
from keyboards.admin import AdminAction, AdminCD, Audiences, Unavailable
from services import ledger
from services.admin import audit, broadcast, stats
from services.admin.access import is_admin
from services.admin.audit import AuditAction
from services.admin.chart import ChartLabels, render_png_async
from services.admin.ports import PaymentRow, RefundRefused
from services.admin.service import AdminService
from services.admin.users import LookupFailed, find_user, move_credits, parse_amount, set_banned

log = logging.getLogger(__name__)

MAX_DAYS = 365
# The attention list is short by nature; the newest first, on one screen.
ATTENTION_LIMIT = 20


class AdminStates(StatesGroup):
    lookup = State()
    amount = State()
    compose = State()
    days = State()


@dataclass
class Ctx:
    """One update's dependencies, for the screen functions below."""

    session: AsyncSession
    user: User
    i18n: I18n
    settings: Settings
    admin: AdminService
    state: FSMContext
    bot: Bot
    kv: KeyValueState
    chat_id: int
    query: CallbackQuery | None = None
    panel_id: int | None = None
    answered: bool = False

    def audit(self, action: AuditAction, result: AuditResult, target: str | None = None) -> None:
        audit.record(self.session, self.settings.admin, self.user.id, action, result, target)
        self.admin.changed()

    async def show(self, body: str, markup: InlineKeyboardMarkup) -> None:
        """Edit the panel message in place (or send it anew when it is gone)."""
        if self.panel_id is not None:
            # An operator clicking faster than Telegram lets one chat be edited: the send
            # budget spaces the edits.
            try:
                await self.bot.edit_message_text(
                    text=body,
                    chat_id=self.chat_id,
                    message_id=self.panel_id,
                    reply_markup=markup,
                )
                return
            except TelegramBadRequest as exc:
                if "not modified" in str(exc):
                    return
                log.info("admin panel message could not be edited; sending a new one")
        sent = await self.bot.send_message(self.chat_id, body, reply_markup=markup)
        self.panel_id = sent.message_id
        await self.state.update_data(panel=sent.message_id)

    async def alert(self, body: str) -> None:
        if self.query is not None and not self.answered:
            self.answered = True
            await self.query.answer(body, show_alert=True)

    async def pending(self, op: dict[str, Any]) -> str:
        nonce = secrets.token_urlsafe(8)
        await self.state.update_data(pending={**op, "nonce": nonce})
        return nonce


def _na(i18n: I18n, value: object | None) -> object:
    return i18n("admin-na") if value is None else value


# ---------------------------------------------------------------- screens


async def show_menu(ctx: Ctx) -> None:
    await ctx.state.set_state(None)
    await ctx.state.update_data(pending=None, bc_text=None)
    await ctx.show(
        ctx.i18n("admin-menu"),
        kb.menu(
            ctx.i18n,
            payments=_payments_available(ctx.admin),
            dashboard_url=ctx.settings.webapp.page_url("dashboard"),
        ),
    )


def _payments_available(admin: AdminService) -> bool:
    return admin.ports.recent_payments is not None and admin.ports.refund is not None


async def show_stats(ctx: Ctx) -> None:
    o = await stats.overview(ctx.session, ctx.admin.ports, utcnow())
    i18n = ctx.i18n
    await ctx.show(
        i18n(
            "admin-stats",
            total=o.users_total,
            new=o.new_today,
            active24=o.active_24h,
            active7=o.active_7d,
            messages=_na(i18n, o.usage_today.messages if o.usage_today else None),
            tokens=_na(i18n, o.usage_today.tokens if o.usage_today else None),
            revenue_today=_na(i18n, o.revenue_today),
            revenue_30=_na(i18n, o.revenue_30d),
            logservers=_na(i18n, o.log_servers),
            queue=o.queue_depth,
        ),
        kb.stats(i18n),
    )
    ctx.audit(AuditAction.STATS, AuditResult.OK)


async def send_chart(ctx: Ctx) -> None:
    series = await stats.chart_series(
        ctx.session, ctx.admin.ports, utcnow(), ctx.settings.admin.chart_days
    )
    png = await render_png_async(series, _chart_labels(ctx.i18n, series))
    caption = ctx.i18n(
        "admin-chart-caption",
        days=len(series.days),
        active=sum(series.active_users),
        peak=max(series.active_users),
        revenue=_na(ctx.i18n, sum(series.revenue) if series.revenue is not None else None),
    )
    await ctx.bot.send_photo(
        ctx.chat_id, BufferedInputFile(png, filename="stats.png"), caption=caption
    )
    ctx.audit(AuditAction.CHART, AuditResult.OK)


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


async def ask_lookup(ctx: Ctx, notice: str | None = None) -> None:
    await ctx.state.set_state(AdminStates.lookup)
    body = ctx.i18n("admin-users-prompt")
    await ctx.show(f"{notice}\n\n{body}" if notice else body, kb.back_only(ctx.i18n))


def _card_language(i18n: I18n, target: User, default_locale: str) -> str:
    """The language the user sees; marked when it comes from their app, not their choice."""
    if target.locale:
        return target.locale
    return i18n("admin-card-lang-derived", lang=target.effective_locale(default_locale))


async def show_card(ctx: Ctx, target: User, notice: str | None = None) -> None:
    await ctx.state.set_state(None)
    i18n = ctx.i18n
    extras = (
        await ctx.admin.ports.user_extras(ctx.session, target.id)
        if ctx.admin.ports.user_extras is not None
        else None
    )
    subscription: object = i18n("admin-na")
    logserver: object = i18n("admin-na")
    if extras is not None:
        subscription = (
            extras.subscription_until.strftime("%Y-%m-%d")
            if extras.subscription_until
            else i18n("admin-card-none")
        )
        logserver = i18n("admin-yes") if extras.log_server_connected else i18n("admin-no")
    body = i18n(
        "admin-card",
        id=str(target.id),
        lang=_card_language(i18n, target, ctx.settings.default_locale),
        joined=target.created_at.strftime("%Y-%m-%d"),
        seen=target.last_seen_at.strftime("%Y-%m-%d"),
        balance=target.credits,
        status=i18n(f"admin-status-{target.status.value}"),
        role=target.role.value,
        subscription=subscription,
        logserver=logserver,
    )
    if notice:
        body = f"{notice}\n\n{body}"
    await ctx.show(body, kb.card(i18n, target.id, banned=target.is_banned))


async def _target(ctx: Ctx, user_id: int) -> User | None:
    target = await ctx.session.get(User, user_id)
    if target is None:
        await ctx.alert(ctx.i18n("admin-lookup-not-found"))
    return target


async def ask_amount(ctx: Ctx, user_id: int, *, grant: bool) -> None:
    target = await _target(ctx, user_id)
    if target is None:
        return
    await ctx.state.set_state(AdminStates.amount)
    await ctx.state.update_data(target=target.id, grant=grant, pending=None)
    key = "admin-grant-prompt" if grant else "admin-deduct-prompt"
    await ctx.show(
        ctx.i18n(key, id=str(target.id), balance=target.credits),
        kb.back_only(ctx.i18n, AdminAction.CARD, target.id),
    )


async def confirm_amount(ctx: Ctx, amount: int) -> None:
    data = await ctx.state.get_data()
    target = await ctx.session.get(User, int(data["target"]))
    if target is None:
        await ctx.show(ctx.i18n("admin-lookup-not-found"), kb.back_only(ctx.i18n))
        return
    grant = bool(data["grant"])
    if not grant and amount > target.credits:
        await ctx.show(
            ctx.i18n("admin-deduct-too-much", balance=target.credits, amount=amount)
            + "\n\n"
            + ctx.i18n("admin-deduct-prompt", id=str(target.id), balance=target.credits),
            kb.back_only(ctx.i18n, AdminAction.CARD, target.id),
        )
        return
    await ctx.state.set_state(None)
    nonce = await ctx.pending(
        {"op": "grant" if grant else "deduct", "target": target.id, "amount": amount}
    )
    after = target.credits + amount if grant else target.credits - amount
    key = "admin-confirm-grant" if grant else "admin-confirm-deduct"
    await ctx.show(
        ctx.i18n(key, id=str(target.id), amount=amount, before=target.credits, after=after),
        kb.confirm(ctx.i18n, nonce, AdminAction.CARD, target.id),
    )


async def confirm_ban(ctx: Ctx, user_id: int) -> None:
    target = await _target(ctx, user_id)
    if target is None:
        return
    if is_admin(ctx.settings, target):
        await ctx.alert(ctx.i18n("admin-ban-admin-refused"))
        ctx.audit(AuditAction.BAN, AuditResult.DENIED, f"user:{target.id}")
        return
    nonce = await ctx.pending({"op": "ban", "target": target.id})
    await ctx.show(
        ctx.i18n("admin-confirm-ban", id=str(target.id)),
        kb.confirm(ctx.i18n, nonce, AdminAction.CARD, target.id),
    )


async def unban(ctx: Ctx, user_id: int) -> None:
    target = await _target(ctx, user_id)
    if target is None:
        return
    changed = set_banned(target, False)
    ctx.audit(
        AuditAction.UNBAN, AuditResult.OK if changed else AuditResult.FAILED, f"user:{target.id}"
    )
    await show_card(ctx, target, ctx.i18n("admin-unbanned" if changed else "admin-not-banned"))


async def show_payments(ctx: Ctx, page: int) -> None:
    ports = ctx.admin.ports
    if ports.recent_payments is None:
        await ctx.alert(ctx.i18n("admin-payments-unavailable"))
        return
    size = ctx.settings.admin.page_size
    rows = list(await ports.recent_payments(ctx.session, page * size, size + 1))
    has_next = len(rows) > size
    rows = rows[:size]
    if rows:
        lines = [
            ctx.i18n(
                "admin-payment-line",
                id=str(r.id),
                user=str(r.user_id),
                stars=r.stars,
                date=r.created_at.strftime("%Y-%m-%d %H:%M"),
                refunded=ctx.i18n("admin-payment-refunded") if r.refunded else "",
            )
            for r in rows
        ]
        body = ctx.i18n("admin-payments", page=page + 1, lines=Html("\n".join(lines)))
    else:
        body = ctx.i18n("admin-payments-empty")
    await ctx.show(body, kb.payments(ctx.i18n, rows, page, has_next=has_next))
    ctx.audit(AuditAction.PAYMENTS, AuditResult.OK)


async def show_attention(ctx: Ctx) -> None:
    """Payments that need a person: refund requests the policy left to an operator, charges
    recorded but not credited (flagged off the catalogue, or still pending), and charges that
    reached us only through reconciliation."""
    ports = ctx.admin.ports
    if ports.attention is None:
        await ctx.alert(ctx.i18n("admin-payments-unavailable"))
        return
    rows = list(await ports.attention(ctx.session, ATTENTION_LIMIT))
    if rows:
        lines = [
            ctx.i18n(
                "admin-attention-line",
                id=str(r.id),
                user=str(r.user_id),
                stars=r.stars,
                date=r.created_at.strftime("%Y-%m-%d %H:%M"),
                reason=ctx.i18n(f"admin-attention-{r.reason.value}", detail=r.detail),
            )
            for r in rows
        ]
        body = ctx.i18n("admin-attention", lines=Html("\n".join(lines)))
    else:
        body = ctx.i18n("admin-attention-empty")
    await ctx.show(body, kb.attention(ctx.i18n, rows))
    ctx.audit(AuditAction.PAYMENTS, AuditResult.OK, "attention")


async def confirm_refund(ctx: Ctx, payment_id: int) -> None:
    if ctx.admin.ports.refund is None:
        await ctx.alert(ctx.i18n("admin-payments-unavailable"))
        return
    nonce = await ctx.pending({"op": "refund", "payment": payment_id})
    await ctx.show(
        ctx.i18n("admin-confirm-refund", id=str(payment_id)),
        kb.confirm(ctx.i18n, nonce, AdminAction.PAYMENTS),
    )


async def ask_broadcast(ctx: Ctx) -> None:
    await ctx.state.set_state(AdminStates.compose)
    await ctx.show(ctx.i18n("admin-bc-prompt", limit=broadcast.MAX_TEXT), kb.back_only(ctx.i18n))


async def show_preview(ctx: Ctx, notice: str | None = None) -> None:
    data = await ctx.state.get_data()
    body = ctx.i18n("admin-bc-preview", text=Html(str(data.get("bc_text") or "")))
    if notice:
        body = f"{notice}\n\n{body}"
    await ctx.show(body, kb.audience(ctx.i18n))


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


async def confirm_broadcast(ctx: Ctx, audience: broadcast.Audience) -> None:
    data = await ctx.state.get_data()
    if not data.get("bc_text"):
        await ask_broadcast(ctx)
        return
    await ctx.state.set_state(None)
    count = await broadcast.count_audience(
        ctx.session, audience, utcnow(), ctx.settings.default_locale
    )
    if count == 0:
        await show_preview(ctx, ctx.i18n("admin-bc-nobody", audience=_describe(ctx.i18n, audience)))
        return
    nonce = await ctx.pending(
        {"op": "broadcast", "kind": audience.kind.value, "value": audience.value}
    )
    await ctx.show(
        ctx.i18n(
            "admin-bc-confirm",
            audience=_describe(ctx.i18n, audience),
            count=count,
            rate=ctx.settings.sendbudget.bulk_per_second,
            text=Html(str(data["bc_text"])),
        ),
        kb.confirm(ctx.i18n, nonce, AdminAction.BROADCAST),
    )


async def show_system(ctx: Ctx, notice: str | None = None) -> None:
    i18n = ctx.i18n
    try:
        await ctx.session.execute(text("SELECT 1"))
        db_ok = True
    except Exception:
        log.warning("admin system check: database unreachable", exc_info=True)
        db_ok = False
    if ctx.settings.redis_url is None:
        redis = i18n("admin-sys-redis-off")
    else:
        redis = i18n("admin-ok") if await ctx.kv.ping() else i18n("admin-down")
    queue = await stats.broadcast_backlog(ctx.session)
    if ctx.admin.ports.queue_depth is not None:
        queue += await ctx.admin.ports.queue_depth(ctx.session)
    scheduled = ctx.admin.ports.scheduler_jobs() if ctx.admin.ports.scheduler_jobs else []
    jobs = [
        i18n(
            "admin-sys-job",
            name=j.id,
            next=j.next_run.astimezone(UTC).strftime("%H:%M:%S") if j.next_run else "—",
            failures=j.failures,
        )
        for j in scheduled
    ]
    if ctx.admin.ports.provider_status is not None:
        providers = [
            i18n("admin-sys-provider", name=p.name, state=p.state)
            for p in ctx.admin.ports.provider_status()
            if p.configured
        ]
    else:
        providers = []
    up = timedelta(seconds=ctx.admin.uptime_seconds)
    body = i18n(
        "admin-system",
        db=i18n("admin-ok") if db_ok else i18n("admin-down"),
        redis=redis,
        queue=queue,
        jobs=Html("\n".join(jobs) if jobs else i18n("admin-sys-none")),
        providers=Html("\n".join(providers) if providers else i18n("admin-sys-none")),
        version=ctx.admin.version,
        uptime=str(up),
    )
    if notice:
        body = f"{notice}\n\n{body}"
    await ctx.show(body, kb.system(i18n, purge=ctx.admin.ports.purge_now is not None))
    ctx.audit(AuditAction.SYSTEM, AuditResult.OK)


async def confirm_purge(ctx: Ctx) -> None:
    if ctx.admin.ports.purge_now is None:
        await ctx.alert(ctx.i18n("admin-purge-unavailable"))
        return
    nonce = await ctx.pending({"op": "purge"})
    await ctx.show(ctx.i18n("admin-confirm-purge"), kb.confirm(ctx.i18n, nonce, AdminAction.SYSTEM))


# ---------------------------------------------------------------- confirmed actions


async def run_confirmed(ctx: Ctx, nonce: str) -> None:
    data = await ctx.state.get_data()
    pending = data.get("pending")
    if not isinstance(pending, dict) or not secrets.compare_digest(
        str(pending.get("nonce", "")), nonce
    ):
        await ctx.alert(ctx.i18n("admin-confirm-stale"))
        return
    # Single use: a second press of the same button finds nothing pending.
    await ctx.state.update_data(pending=None)
    op = pending["op"]
    if op in ("grant", "deduct"):
        await _apply_amount(
            ctx, int(pending["target"]), int(pending["amount"]), op == "grant", nonce
        )
    elif op == "ban":
        target = await _target(ctx, int(pending["target"]))
        if target is not None:
            set_banned(target, True)
            ctx.audit(AuditAction.BAN, AuditResult.OK, f"user:{target.id}")
            await show_card(ctx, target, ctx.i18n("admin-banned"))
    elif op == "refund":
        await _refund(ctx, int(pending["payment"]))
    elif op == "broadcast":
        await _start_broadcast(
            ctx, broadcast.Audience(AudienceKind(pending["kind"]), pending.get("value"))
        )
    elif op == "purge":
        await _purge(ctx)


async def _apply_amount(ctx: Ctx, user_id: int, amount: int, grant: bool, nonce: str) -> None:
    action = AuditAction.GRANT if grant else AuditAction.DEDUCT
    target_ref = f"user:{user_id}"
    target = await _target(ctx, user_id)
    if target is None:
        return
    try:
        balance = await move_credits(
            ctx.session, user_id, amount, grant=grant, ref=f"admin:{nonce}"
        )
    except ledger.InsufficientCredits as exc:
        ctx.audit(action, AuditResult.FAILED, target_ref)
        await show_card(
            ctx, target, ctx.i18n("admin-deduct-too-much", balance=exc.balance, amount=amount)
        )
        return
    except ledger.DuplicateMovement:
        await ctx.alert(ctx.i18n("admin-confirm-stale"))
        return
    ctx.audit(action, AuditResult.OK, target_ref)
    key = "admin-granted" if grant else "admin-deducted"
    await show_card(ctx, target, ctx.i18n(key, amount=amount, balance=balance))


async def _refund(ctx: Ctx, payment_id: int) -> None:
    assert ctx.admin.ports.refund is not None
    target = f"payment:{payment_id}"
    try:
        row = await ctx.admin.ports.refund(ctx.session, payment_id)
    except RefundRefused as exc:
        ctx.audit(AuditAction.REFUND, AuditResult.FAILED, target)
        await ctx.show(
            ctx.i18n("admin-refund-refused", reason=_refusal(ctx.i18n, exc.reason)),
            kb.back_only(ctx.i18n, AdminAction.PAYMENTS),
        )
        return
    ctx.audit(AuditAction.REFUND, AuditResult.OK, target)
    # The Stars went back at Telegram: keep the record of it before telling anyone.
    await ctx.session.commit()
    body = ctx.i18n("admin-refunded", id=str(row.id), stars=row.stars, user=str(row.user_id))
    if row.shortfall:
        body += "\n" + ctx.i18n("admin-refund-shortfall", shortfall=row.shortfall)
    told = await _tell_refunded(ctx, row)
    body += "\n" + ctx.i18n("admin-refund-user-told" if told else "admin-refund-user-not-told")
    await ctx.show(body, kb.back_only(ctx.i18n, AdminAction.PAYMENTS))


async def _tell_refunded(ctx: Ctx, row: PaymentRow) -> bool:
    """The user hears of a refund an operator made, in their language."""
    translator = ctx.i18n.translator
    locale = await ctx.session.scalar(select(User.locale).where(User.id == row.user_id))
    balance = await ledger.balance(ctx.session, row.user_id)
    await ctx.session.commit()  # no transaction held across the send
    text = translator.get(
        translator.resolve_locale(locale),
        "pay-refunded-by-admin",
        stars=row.stars,
        reversed=row.credits_reversed,
        balance=balance,
    )
    try:
        await ctx.bot.send_message(row.user_id, text)
    except TelegramAPIError as exc:
        log.info("user of refunded payment %s not told: %s", row.id, exc)
        return False
    return True


def _refusal(i18n: I18n, reason: str) -> str:
    key = f"admin-refund-reason-{reason}"
    return i18n(key) if i18n.translator.has(i18n.locale, key) else reason


async def _start_broadcast(ctx: Ctx, audience: broadcast.Audience) -> None:
    data = await ctx.state.get_data()
    body = str(data.get("bc_text") or "")
    if not body:
        await ask_broadcast(ctx)
        return
    bc = await broadcast.create(
        ctx.session,
        ctx.settings.admin,
        admin_id=ctx.user.id,
        chat_id=ctx.chat_id,
        locale=ctx.i18n.locale,
        text=body,
        audience=audience,
        default_locale=ctx.settings.default_locale,
    )
    ctx.audit(AuditAction.BROADCAST, AuditResult.OK, f"broadcast:{bc.id}")
    await ctx.state.update_data(bc_text=None)
    # Committed here, not after the handler: the worker starts delivering at once.
    await ctx.session.commit()
    ctx.admin.changed()
    await ctx.show(
        ctx.i18n("admin-bc-started", id=str(bc.id), count=bc.total), kb.back_only(ctx.i18n)
    )


async def _purge(ctx: Ctx) -> None:
    assert ctx.admin.ports.purge_now is not None
    # The purge runs its own transactions: end this update's first (SQLite has one writer).
    await ctx.session.commit()
    try:
        removed = await ctx.admin.ports.purge_now()
    except Exception:
        log.exception("purge now failed")
        ctx.audit(AuditAction.PURGE, AuditResult.FAILED)
        await show_system(ctx, ctx.i18n("admin-purge-failed"))
        return
    ctx.audit(AuditAction.PURGE, AuditResult.OK)
    await show_system(ctx, ctx.i18n("admin-purged", count=removed))


# ---------------------------------------------------------------- entry points


async def open_panel(
    message: Message,
    session: AsyncSession,
    user: User,
    i18n: I18n,
    settings: Settings,
    admin: AdminService,
    state: FSMContext,
    bot: Bot,
    kv: KeyValueState,
) -> None:
    if not is_admin(settings, user):
        audit.record(session, settings.admin, user.id, AuditAction.OPEN, AuditResult.DENIED)
        admin.changed()
        await fallback.unknown_command(message, i18n)
        return
    await state.clear()
    ctx = Ctx(session, user, i18n, settings, admin, state, bot, kv, message.chat.id)
    await show_menu(ctx)
    ctx.audit(AuditAction.OPEN, AuditResult.OK)


Screen = Callable[[Ctx, AdminCD], Awaitable[None]]


async def _disabled(ctx: Ctx, cd: AdminCD) -> None:
    key = (
        "admin-payments-unavailable"
        if cd.ref == Unavailable.PAYMENTS
        else "admin-purge-unavailable"
    )
    await ctx.alert(ctx.i18n(key))


async def _card(ctx: Ctx, cd: AdminCD) -> None:
    target = await _target(ctx, cd.arg)
    if target is not None:
        await show_card(ctx, target)
        ctx.audit(AuditAction.VIEW_USER, AuditResult.OK, f"user:{target.id}")


async def _cancel(ctx: Ctx, cd: AdminCD) -> None:
    await ctx.state.update_data(pending=None)
    try:
        back = AdminAction(cd.ref)
    except ValueError:
        back = AdminAction.MENU
    if back is AdminAction.CARD:
        await _card(ctx, cd)
    elif back is AdminAction.PAYMENTS:
        await show_payments(ctx, 0)
    elif back is AdminAction.ATTENTION:
        await show_attention(ctx)
    elif back is AdminAction.SYSTEM:
        await show_system(ctx)
    elif back is AdminAction.BROADCAST:
        await show_preview(ctx)
    else:
        await show_menu(ctx)


async def _audience(ctx: Ctx, cd: AdminCD) -> None:
    audience = _AUDIENCES.get(cd.ref)
    if audience is None:
        await ctx.alert(ctx.i18n("error-button-expired"))
        return
    await confirm_broadcast(ctx, audience)


async def _ask_days(ctx: Ctx, cd: AdminCD) -> None:
    await ctx.state.set_state(AdminStates.days)
    await ctx.show(
        ctx.i18n("admin-days-prompt", max=MAX_DAYS),
        kb.back_only(ctx.i18n, AdminAction.CANCEL, ref=AdminAction.BROADCAST.value),
    )


SCREENS: dict[AdminAction, Screen] = {
    AdminAction.MENU: lambda ctx, cd: show_menu(ctx),
    AdminAction.STATS: lambda ctx, cd: show_stats(ctx),
    AdminAction.CHART: lambda ctx, cd: send_chart(ctx),
    AdminAction.USERS: lambda ctx, cd: ask_lookup(ctx),
    AdminAction.CARD: _card,
    AdminAction.GRANT: lambda ctx, cd: ask_amount(ctx, cd.arg, grant=True),
    AdminAction.DEDUCT: lambda ctx, cd: ask_amount(ctx, cd.arg, grant=False),
    AdminAction.BAN: lambda ctx, cd: confirm_ban(ctx, cd.arg),
    AdminAction.UNBAN: lambda ctx, cd: unban(ctx, cd.arg),
    AdminAction.PAYMENTS: lambda ctx, cd: show_payments(ctx, max(0, cd.arg)),
    AdminAction.REFUND: lambda ctx, cd: confirm_refund(ctx, cd.arg),
    AdminAction.ATTENTION: lambda ctx, cd: show_attention(ctx),
    AdminAction.BROADCAST: lambda ctx, cd: ask_broadcast(ctx),
    AdminAction.AUDIENCE: _audience,
    AdminAction.AUDIENCE_DAYS: _ask_days,
    AdminAction.SYSTEM: lambda ctx, cd: show_system(ctx),
    AdminAction.PURGE: lambda ctx, cd: confirm_purge(ctx),
    AdminAction.CONFIRM: lambda ctx, cd: run_confirmed(ctx, cd.ref),
    AdminAction.CANCEL: _cancel,
    AdminAction.DISABLED: _disabled,
}


async def on_button(
    query: CallbackQuery,
    callback_data: AdminCD,
    session: AsyncSession,
    user: User,
    i18n: I18n,
    settings: Settings,
    admin: AdminService,
    state: FSMContext,
    bot: Bot,
    kv: KeyValueState,
) -> None:
    # The role is checked here, on every press: the callback data proves nothing.
    if not is_admin(settings, user):
        audit.record(
            session,
            settings.admin,
            user.id,
            AuditAction.CALLBACK,
            AuditResult.DENIED,
            f"{callback_data.action.name.lower()}:{callback_data.arg}",
        )
        admin.changed()
        log.warning("admin button pressed by a non-operator (audited)")
        await fallback.expired_button(query, i18n)
        return
    message = query.message
    if not isinstance(message, Message):
        await query.answer(i18n("error-button-expired"), show_alert=True)
        return
    ctx = Ctx(
        session,
        user,
        i18n,
        settings,
        admin,
        state,
        bot,
        kv,
        message.chat.id,
        query=query,
        panel_id=message.message_id,
    )
    await state.update_data(panel=message.message_id)
    await SCREENS[callback_data.action](ctx, callback_data)
    if not ctx.answered:
        await query.answer()


async def on_reply(
    message: Message,
    session: AsyncSession,
    user: User,
    i18n: I18n,
    settings: Settings,
    admin: AdminService,
    state: FSMContext,
    bot: Bot,
    kv: KeyValueState,
) -> None:
    if not is_admin(settings, user):
        # A former operator still in a prompt: the prompt ends, nothing is done.
        await state.clear()
        audit.record(session, settings.admin, user.id, AuditAction.OPEN, AuditResult.DENIED)
        admin.changed()
        await fallback.plain_text(message, i18n)
        return
    data = await state.get_data()
    panel = data.get("panel")
    ctx = Ctx(
        session,
        user,
        i18n,
        settings,
        admin,
        state,
        bot,
        kv,
        message.chat.id,
        panel_id=int(panel) if panel is not None else None,
    )
    current = await state.get_state()
    if current == AdminStates.lookup.state:
        await _on_lookup(ctx, message.text or "")
    elif current == AdminStates.amount.state:
        amount = parse_amount(message.text or "")
        if amount is None:
            await ctx.show(
                ctx.i18n("admin-amount-invalid"),
                kb.back_only(i18n, AdminAction.CARD, int(data.get("target") or 0)),
            )
            return
        await confirm_amount(ctx, amount)
    elif current == AdminStates.compose.state:
        await _on_compose(ctx, message)
    elif current == AdminStates.days.state:
        raw = (message.text or "").strip()
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_DAYS:
            await ctx.show(
                ctx.i18n("admin-days-invalid", max=MAX_DAYS),
                kb.back_only(i18n, AdminAction.CANCEL, ref=AdminAction.BROADCAST.value),
            )
            return
        await confirm_broadcast(ctx, broadcast.Audience(AudienceKind.ACTIVE, str(int(raw))))


async def _on_lookup(ctx: Ctx, query: str) -> None:
    try:
        target = await find_user(ctx.session, query, ctx.admin.hasher.candidates)
    except LookupFailed as exc:
        ctx.audit(AuditAction.LOOKUP, AuditResult.FAILED)
        await ask_lookup(ctx, ctx.i18n(f"admin-lookup-{exc.reason.value}"))
        return
    ctx.audit(AuditAction.LOOKUP, AuditResult.OK, f"user:{target.id}")
    await show_card(ctx, target)


async def _on_compose(ctx: Ctx, message: Message) -> None:
    if not message.text:
        await ctx.show(ctx.i18n("admin-bc-text-only"), kb.back_only(ctx.i18n))
        return
    body = message.html_text
    if len(message.text) > broadcast.MAX_TEXT:
        await ctx.show(
            ctx.i18n("admin-bc-too-long", length=len(message.text), limit=broadcast.MAX_TEXT),
            kb.back_only(ctx.i18n),
        )
        return
    await ctx.state.set_state(None)
    await ctx.state.update_data(bc_text=body)
    await show_preview(ctx)


def setup() -> Router:
    router = Router(name="admin")
    router.message.register(open_panel, Command("admin"))
    prompts = StateFilter(
        AdminStates.lookup, AdminStates.amount, AdminStates.compose, AdminStates.days
    )
    # Commands typed during a prompt go to their own handlers.
    router.message.register(on_reply, prompts, ~F.text.startswith("/"))
    router.callback_query.register(on_button, AdminCD.filter())
    return router
