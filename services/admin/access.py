"""Who is an operator: listed in `ADMIN_IDS`, or given the admin role in the database."""

from __future__ import annotations

from bot.db.models import User, UserRole
from bot.settings import Settings


def is_admin(settings: Settings, user: User | None) -> bool:
    if user is None:
        return False
    return user.id in settings.admin_ids or user.role is UserRole.ADMIN
