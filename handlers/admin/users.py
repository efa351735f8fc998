"""Users: find one by id or @username, their card, credits granted or deducted, ban and unban."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.types import CallbackQuery, Message
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import User
from bot.db.models.admin import AuditResult
from bot.i18n import I18n
from bot.settings import Settings
from handlers.admin.gate import PROMPT
from handlers.admin.panel import (
    NOT_A_COMMAND,
    AdminStates,
    AmountPrompt,
    Panel,
    PendingAmount,
    PendingBan,
)
from keyboards import admin as kb
from keyboards.admin import AdminAction, AdminCD, Confirm
from services import ledger
from services.admin import operations
from services.admin.access import is_admin
from services.admin.audit import AuditAction
from services.admin.service import AdminService
from services.admin.users import LookupFailed, find_user, parse_amount


async def ask_lookup(panel: Panel, notice: str | None = None) -> None:
    body = panel.i18n("admin-users-prompt")
    await panel.ask(
        AdminStates.lookup, f"{notice}\n\n{body}" if notice else body, kb.back_only(panel.i18n)
    )


def _card_language(i18n: I18n, target: User, default_locale: str) -> str:
    """The language the user sees; marked when it comes from their app, not their choice."""
    if target.locale:
        return target.locale
    return i18n("admin-card-lang-derived", lang=target.effective_locale(default_locale))


async def show_card(
    panel: Panel,
    session: AsyncSession,
    settings: Settings,
    admin: AdminService,
    target: User,
    notice: str | None = None,
) -> None:
    await panel.state.set_state(None)
    i18n = panel.i18n
    extras = (
        await admin.ports.user_extras(session, target.id)
        if admin.ports.user_extras is not None
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
        lang=_card_language(i18n, target, settings.default_locale),
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


async def _target(panel: Panel, session: AsyncSession, user_id: int) -> User | None:
    target = await session.get(User, user_id)
    if target is None:
        await panel.alert(panel.i18n("admin-lookup-not-found"))
    return target


async def on_users(query: CallbackQuery, user: User, panel: Panel) -> None:
    await ask_lookup(panel)


async def on_lookup(
    message: Message,
    session: AsyncSession,
    user: User,
    settings: Settings,
    admin: AdminService,
    panel: Panel,
) -> None:
    try:
        target = await find_user(session, message.text or "", admin.hasher.candidates)
    except LookupFailed as exc:
        await operations.note(session, admin, user.id, AuditAction.LOOKUP, AuditResult.FAILED)
        await ask_lookup(panel, panel.i18n(f"admin-lookup-{exc.reason.value}"))
        return
    await operations.note(
        session, admin, user.id, AuditAction.LOOKUP, AuditResult.OK, f"user:{target.id}"
    )
    await show_card(panel, session, settings, admin, target)


async def on_card(
    query: CallbackQuery,
    callback_data: AdminCD,
    session: AsyncSession,
    user: User,
    settings: Settings,
    admin: AdminService,
    panel: Panel,
) -> None:
    target = await _target(panel, session, callback_data.arg)
    if target is None:
        return
    await operations.note(
        session, admin, user.id, AuditAction.VIEW_USER, AuditResult.OK, f"user:{target.id}"
    )
    await show_card(panel, session, settings, admin, target)


async def _ask_amount(panel: Panel, session: AsyncSession, user_id: int, *, grant: bool) -> None:
    target = await _target(panel, session, user_id)
    if target is None:
        return
    panel.data.amount_for = AmountPrompt(target=target.id, grant=grant)
    key = "admin-grant-prompt" if grant else "admin-deduct-prompt"
    await panel.ask(
        AdminStates.amount,
        panel.i18n(key, id=str(target.id), balance=target.credits),
        kb.back_only(panel.i18n, AdminAction.CARD, target.id),
    )


async def on_grant(
    query: CallbackQuery, callback_data: AdminCD, session: AsyncSession, user: User, panel: Panel
) -> None:
    await _ask_amount(panel, session, callback_data.arg, grant=True)


async def on_deduct(
    query: CallbackQuery, callback_data: AdminCD, session: AsyncSession, user: User, panel: Panel
) -> None:
    await _ask_amount(panel, session, callback_data.arg, grant=False)


async def on_amount(message: Message, session: AsyncSession, user: User, panel: Panel) -> None:
    i18n = panel.i18n
    prompt = panel.data.amount_for
    target = await session.get(User, prompt.target) if prompt is not None else None
    if prompt is None or target is None:
        await panel.show(i18n("admin-lookup-not-found"), kb.back_only(i18n))
        return
    back = kb.back_only(i18n, AdminAction.CARD, target.id)
    amount = parse_amount(message.text or "")
    if amount is None:
        await panel.show(i18n("admin-amount-invalid"), back)
        return
    if not prompt.grant and amount > target.credits:
        await panel.show(
            i18n("admin-deduct-too-much", balance=target.credits, amount=amount)
            + "\n\n"
            + i18n("admin-deduct-prompt", id=str(target.id), balance=target.credits),
            back,
        )
        return
    after = target.credits + amount if prompt.grant else target.credits - amount
    key = "admin-confirm-grant" if prompt.grant else "admin-confirm-deduct"
    await panel.confirm(
        PendingAmount(target=target.id, amount=amount, grant=prompt.grant),
        i18n(key, id=str(target.id), amount=amount, before=target.credits, after=after),
        AdminAction.CARD,
        target.id,
    )


async def on_confirm_amount(
    query: CallbackQuery,
    callback_data: AdminCD,
    session: AsyncSession,
    user: User,
    settings: Settings,
    admin: AdminService,
    panel: Panel,
) -> None:
    pending = await panel.take(PendingAmount, callback_data.ref)
    if pending is None:
        return
    target = await _target(panel, session, pending.target)
    if target is None:
        return
    try:
        balance = await operations.move(
            session,
            admin,
            user.id,
            target.id,
            pending.amount,
            grant=pending.grant,
            ref=f"admin:{pending.nonce}",
        )
    except ledger.InsufficientCredits as exc:
        notice = panel.i18n("admin-deduct-too-much", balance=exc.balance, amount=pending.amount)
        await show_card(panel, session, settings, admin, target, notice)
        return
    except ledger.DuplicateMovement:
        await panel.alert(panel.i18n("admin-confirm-stale"))
        return
    key = "admin-granted" if pending.grant else "admin-deducted"
    notice = panel.i18n(key, amount=pending.amount, balance=balance)
    await show_card(panel, session, settings, admin, target, notice)


async def on_ban(
    query: CallbackQuery,
    callback_data: AdminCD,
    session: AsyncSession,
    user: User,
    settings: Settings,
    admin: AdminService,
    panel: Panel,
) -> None:
    target = await _target(panel, session, callback_data.arg)
    if target is None:
        return
    if is_admin(settings, target):
        await operations.note(
            session, admin, user.id, AuditAction.BAN, AuditResult.DENIED, f"user:{target.id}"
        )
        await panel.alert(panel.i18n("admin-ban-admin-refused"))
        return
    await panel.confirm(
        PendingBan(target=target.id),
        panel.i18n("admin-confirm-ban", id=str(target.id)),
        AdminAction.CARD,
        target.id,
    )


async def on_confirm_ban(
    query: CallbackQuery,
    callback_data: AdminCD,
    session: AsyncSession,
    user: User,
    settings: Settings,
    admin: AdminService,
    panel: Panel,
) -> None:
    pending = await panel.take(PendingBan, callback_data.ref)
    if pending is None:
        return
    target = await _target(panel, session, pending.target)
    if target is None:
        return
    await operations.ban(session, admin, user.id, target)
    await show_card(panel, session, settings, admin, target, panel.i18n("admin-banned"))


async def on_unban(
    query: CallbackQuery,
    callback_data: AdminCD,
    session: AsyncSession,
    user: User,
    settings: Settings,
    admin: AdminService,
    panel: Panel,
) -> None:
    target = await _target(panel, session, callback_data.arg)
    if target is None:
        return
    changed = await operations.unban(session, admin, user.id, target)
    notice = panel.i18n("admin-unbanned" if changed else "admin-not-banned")
    await show_card(panel, session, settings, admin, target, notice)


def setup() -> Router:
    router = Router(name="admin-users")
    on = router.callback_query.register
    on(on_users, AdminCD.filter(F.action == AdminAction.USERS))
    on(on_card, AdminCD.filter(F.action == AdminAction.CARD))
    on(on_grant, AdminCD.filter(F.action == AdminAction.GRANT))
    on(on_deduct, AdminCD.filter(F.action == AdminAction.DEDUCT))
    on(on_ban, AdminCD.filter(F.action == AdminAction.BAN))
    on(on_unban, AdminCD.filter(F.action == AdminAction.UNBAN))
    on(
        on_confirm_amount,
        AdminCD.filter((F.action == AdminAction.CONFIRM) & (F.arg == Confirm.AMOUNT)),
    )
    on(on_confirm_ban, AdminCD.filter((F.action == AdminAction.CONFIRM) & (F.arg == Confirm.BAN)))
    # Commands typed during a prompt go to their own handlers.
    router.message.register(on_lookup, StateFilter(AdminStates.lookup), NOT_A_COMMAND, flags=PROMPT)
    router.message.register(on_amount, StateFilter(AdminStates.amount), NOT_A_COMMAND, flags=PROMPT)
    return router
