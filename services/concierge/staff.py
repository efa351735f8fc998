"""Who answers as a persona: operators, and the users they gave the Staff role."""

from __future__ import annotations

from bot.db.models import User, UserRole
from services.admin.access import Operators, is_admin


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
