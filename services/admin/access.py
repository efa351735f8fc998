"""Who is an operator: listed in `ADMIN_IDS`, or given the admin role in the database."""

from __future__ import annotations

from typing import Protocol

from bot.db.models import User, UserRole


class Operators(Protocol):
    """Where `ADMIN_IDS` lives (the application's `Settings`)."""

    @property
    def admin_ids(self) -> frozenset[int]: ...


def is_admin(operators: Operators, user: User | None) -> bool:
    if user is None:
        return False
    return user.id in operators.admin_ids or user.role is UserRole.ADMIN
