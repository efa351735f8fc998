"""Who answers as a persona: operators, and the users they gave the Staff role."""

from __future__ import annotations

import enum

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import User, UserRole
from bot.db.models.admin import AuditResult
from services.admin import audit
from services.admin.access import Operators, is_admin
from services.admin.audit import AuditAction
from services.admin.config import AdminSettings


class RoleChange(enum.Enum):
    GRANTED = "granted"
    REVOKED = "revoked"
    UNCHANGED = "unchanged"
    NOT_FOUND = "not-found"
    DENIED = "denied"


def is_staff(operators: Operators, user: User | None) -> bool:
    """Checked on every staff action: a button or a message in the desk proves nothing."""
    if user is None or user.is_banned:
        return False
    return is_admin(operators, user) or user.role is UserRole.STAFF


def set_staff(target: User, on: bool) -> bool:
    """Give or take back the Staff role; False when nothing changed (an operator's admin role
    is never lowered to staff or user here)."""
    if target.role is UserRole.ADMIN:
        return False
    wanted = UserRole.STAFF if on else UserRole.USER
    if target.role is wanted:
        return False
    target.role = wanted
    return True


async def toggle_staff(
    session: AsyncSession,
    operators: Operators,
    admin_settings: AdminSettings,
    actor: User,
    target_id: int,
) -> RoleChange:
    """An operator's press on a user card's Staff button: re-checked, audited (a refusal too)
    and committed before the caller answers."""
    if not is_admin(operators, actor):
        audit.record(
            session,
            admin_settings,
            actor.id,
            AuditAction.STAFF,
            AuditResult.DENIED,
            f"user:{target_id}",
        )
        await session.commit()
        return RoleChange.DENIED
    target = await session.get(User, target_id)
    if target is None:
        return RoleChange.NOT_FOUND
    on = not is_staff(operators, target)
    changed = set_staff(target, on)
    audit.record(
        session,
        admin_settings,
        actor.id,
        AuditAction.STAFF,
        AuditResult.OK if changed else AuditResult.FAILED,
        f"user:{target_id}:{'on' if on else 'off'}",
    )
    await session.commit()
    if not changed:
        return RoleChange.UNCHANGED
    return RoleChange.GRANTED if on else RoleChange.REVOKED
