"""Users: find one by id or @username, their card, credits granted or deducted, ban and unban."""

from __future__ import annotations

from aiogram import Router
from aiogram.types import CallbackQuery, Message

from bot.db.models import User
from bot.db.models.admin import AuditResult
from handlers.admin.panel import AdminStates, AmountPrompt, Panel, PendingAmount, PendingBan
from handlers.admin.routing import Routes
from keyboards import admin as kb
from keyboards.admin import AdminAction, AdminCD, Confirm
from services import ledger
from services.admin.access import is_admin
from services.admin.audit import AuditAction
from services.admin.users import LookupFailed, find_user, parse_amount

routes = Routes("admin-users")


async def ask_lookup(panel: Panel, notice: str | None = None) -> None:
    body = panel.i18n("admin-users-prompt")
    await panel.ask(
        AdminStates.lookup, f"{notice}\n\n{body}" if notice else body, kb.back_only(panel.i18n)
    )


routes.screen(AdminAction.USERS, ask_lookup)


def _card_language(panel: Panel, target: User) -> str:
    """The language the user sees; marked when it comes from their app, not their choice."""
    if target.locale:
        return target.locale
    lang = target.effective_locale(panel.settings.default_locale)
    return panel.i18n("admin-card-lang-derived", lang=lang)


async def show_card(panel: Panel, target: User, notice: str | None = None) -> None:
    await panel.state.set_state(None)
    i18n = panel.i18n
    extras_of = panel.admin.ports.user_extras
    extras = await extras_of(panel.session, target.id) if extras_of is not None else None
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
        lang=_card_language(panel, target),
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
    await panel.show(body, kb.card(i18n, target.id, banned=target.is_banned))


async def _target(panel: Panel, user_id: int) -> User | None:
    target = await panel.session.get(User, user_id)
    if target is None:
        await panel.alert(panel.i18n("admin-lookup-not-found"))
    return target


@routes.prompt(AdminStates.lookup)
async def on_lookup(message: Message, user: User, panel: Panel) -> None:
    try:
        target = await find_user(panel.session, message.text or "", panel.admin.hasher.candidates)
    except LookupFailed as exc:
        await panel.ops.note(AuditAction.LOOKUP, AuditResult.FAILED)
        await ask_lookup(panel, panel.i18n(f"admin-lookup-{exc.reason.value}"))
        return
    await panel.ops.note(AuditAction.LOOKUP, target=f"user:{target.id}")
    await show_card(panel, target)


@routes.button(AdminAction.CARD)
async def on_card(query: CallbackQuery, callback_data: AdminCD, user: User, panel: Panel) -> None:
    target = await _target(panel, callback_data.arg)
    if target is None:
        return
    await panel.ops.note(AuditAction.VIEW_USER, target=f"user:{target.id}")
    await show_card(panel, target)


async def _ask_amount(panel: Panel, user_id: int, *, grant: bool) -> None:
    target = await _target(panel, user_id)
    if target is None:
        return
    panel.data.amount_for = AmountPrompt(target=target.id, grant=grant)
    key = "admin-grant-prompt" if grant else "admin-deduct-prompt"
    await panel.ask(
        AdminStates.amount,
        panel.i18n(key, id=str(target.id), balance=target.credits),
        kb.back_only(panel.i18n, AdminAction.CARD, target.id),
    )


@routes.button(AdminAction.GRANT)
async def on_grant(query: CallbackQuery, callback_data: AdminCD, user: User, panel: Panel) -> None:
    await _ask_amount(panel, callback_data.arg, grant=True)


@routes.button(AdminAction.DEDUCT)
async def on_deduct(query: CallbackQuery, callback_data: AdminCD, user: User, panel: Panel) -> None:
    await _ask_amount(panel, callback_data.arg, grant=False)


@routes.prompt(AdminStates.amount)
async def on_amount(message: Message, user: User, panel: Panel) -> None:
    i18n = panel.i18n
    asked = panel.data.amount_for
    target = await panel.session.get(User, asked.target) if asked is not None else None
    if asked is None or target is None:
        await panel.show(i18n("admin-lookup-not-found"), kb.back_only(i18n))
        return
    back = kb.back_only(i18n, AdminAction.CARD, target.id)
    amount = parse_amount(message.text or "")
    if amount is None:
        await panel.show(i18n("admin-amount-invalid"), back)
        return
    before = target.credits
    if not asked.grant and amount > before:
        await panel.show(
            i18n("admin-deduct-too-much", balance=before, amount=amount)
            + "\n\n"
            + i18n("admin-deduct-prompt", id=str(target.id), balance=before),
            back,
        )
        return
    after = before + amount if asked.grant else before - amount
    key = "admin-confirm-grant" if asked.grant else "admin-confirm-deduct"
    body = i18n(key, id=str(target.id), amount=amount, before=before, after=after)
    pending = PendingAmount(target=target.id, amount=amount, grant=asked.grant)
    await panel.confirm(pending, body, AdminAction.CARD, target.id)


@routes.confirmation(Confirm.AMOUNT)
async def on_confirm_amount(
    query: CallbackQuery, user: User, panel: Panel, pending: PendingAmount
) -> None:
    target = await _target(panel, pending.target)
    if target is None:
        return
    try:
        balance = await panel.ops.move(
            target.id,
            pending.amount,
            grant=pending.grant,
            ref=f"admin:{pending.nonce}",
        )
    except ledger.InsufficientCredits as exc:
        notice = panel.i18n("admin-deduct-too-much", balance=exc.balance, amount=pending.amount)
        await show_card(panel, target, notice)
        return
    except ledger.DuplicateMovement:
        await panel.alert(panel.i18n("admin-confirm-stale"))
        return
    key = "admin-granted" if pending.grant else "admin-deducted"
    await show_card(panel, target, panel.i18n(key, amount=pending.amount, balance=balance))


@routes.button(AdminAction.BAN)
async def on_ban(query: CallbackQuery, callback_data: AdminCD, user: User, panel: Panel) -> None:
    target = await _target(panel, callback_data.arg)
    if target is None:
        return
    if is_admin(panel.settings, target):
        await panel.ops.note(AuditAction.BAN, AuditResult.DENIED, f"user:{target.id}")
        await panel.alert(panel.i18n("admin-ban-admin-refused"))
        return
    body = panel.i18n("admin-confirm-ban", id=str(target.id))
    await panel.confirm(PendingBan(target=target.id), body, AdminAction.CARD, target.id)


@routes.confirmation(Confirm.BAN)
async def on_confirm_ban(
    query: CallbackQuery, user: User, panel: Panel, pending: PendingBan
) -> None:
    target = await _target(panel, pending.target)
    if target is not None:
        await panel.ops.ban(target)
        await show_card(panel, target, panel.i18n("admin-banned"))


@routes.button(AdminAction.UNBAN)
async def on_unban(query: CallbackQuery, callback_data: AdminCD, user: User, panel: Panel) -> None:
    target = await _target(panel, callback_data.arg)
    if target is None:
        return
    changed = await panel.ops.unban(target)
    await show_card(panel, target, panel.i18n("admin-unbanned" if changed else "admin-not-banned"))


def setup() -> Router:
    return routes.router()
