"""Roles and the permission matrix of a room, as data.

The matrix is the single source of truth: every command and every button press of the rooms
feature asks ``allowed(role, permission)`` on the server; docs/rooms.md shows the same table.
"""

from __future__ import annotations

import enum
from types import MappingProxyType


class Role(enum.StrEnum):
    READER = "reader"
    GUEST = "guest"
    MEMBER = "member"
    ADMIN = "admin"
    MASTER = "master"

    @property
    def rank(self) -> int:
        return _ORDER.index(self)

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Role):
            return NotImplemented
        return self.rank >= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Role):
            return NotImplemented
        return self.rank > other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Role):
            return NotImplemented
        return self.rank <= other.rank

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Role):
            return NotImplemented
        return self.rank < other.rank


_ORDER = (Role.READER, Role.GUEST, Role.MEMBER, Role.ADMIN, Role.MASTER)

ASSIGNABLE = (Role.READER, Role.GUEST, Role.MEMBER, Role.ADMIN)
"""Roles that can be given with ``/role`` (the Master is handed over, never assigned)."""


class Permission(enum.StrEnum):
    VIEW_PANEL = "view-panel"
    ASK = "ask"
    """Ask the AI in the room or privately (Guests: only when the room lets them, within quota)."""
    REGENERATE_OWN = "regenerate-own"
    REGENERATE_ANY = "regenerate-any"
    EXCLUDE_OWN = "exclude-own"
    EXCLUDE_ANY = "exclude-any"
    STOP_OWN = "stop-own"
    STOP_ANY = "stop-any"
    USAGE_OWN = "usage-own"
    USAGE_ALL = "usage-all"
    NEW_CONTEXT = "new-context"
    CHANGE_MODEL = "change-model"
    CHANGE_PERSONA = "change-persona"
    CHANGE_SETTINGS = "change-settings"
    """Trigger, whether Guests may ask, their quota, the role of newcomers."""
    MANAGE_ROLES = "manage-roles"
    SET_BUDGET = "set-budget"
    """The room's daily budget and the per-member cap: the Master's credits pay."""
    HAND_OVER = "hand-over"


P = Permission
_READER = frozenset({P.VIEW_PANEL, P.USAGE_OWN})
_GUEST = _READER | {P.ASK, P.REGENERATE_OWN, P.EXCLUDE_OWN, P.STOP_OWN}
_MEMBER = _GUEST
_ADMIN = _MEMBER | {
    P.REGENERATE_ANY,
    P.EXCLUDE_ANY,
    P.STOP_ANY,
    P.USAGE_ALL,
    P.NEW_CONTEXT,
    P.CHANGE_MODEL,
    P.CHANGE_PERSONA,
    P.CHANGE_SETTINGS,
    P.MANAGE_ROLES,
}
_MASTER = _ADMIN | {P.SET_BUDGET, P.HAND_OVER}

MATRIX: MappingProxyType[Role, frozenset[Permission]] = MappingProxyType(
    {
        Role.READER: _READER,
        Role.GUEST: frozenset(_GUEST),
        Role.MEMBER: frozenset(_MEMBER),
        Role.ADMIN: frozenset(_ADMIN),
        Role.MASTER: frozenset(_MASTER),
    }
)


def allowed(role: Role, permission: Permission) -> bool:
    return permission in MATRIX[role]


def may_assign(actor: Role, target_current: Role, new: Role) -> bool:
    """Role changes: only with MANAGE_ROLES, never of someone at or above the actor's own rank
    (the Master excepted: they may change Admins), never to Master, never above the actor."""
    if not allowed(actor, P.MANAGE_ROLES) or new not in ASSIGNABLE:
        return False
    if actor is Role.MASTER:
        return target_current is not Role.MASTER
    return target_current < actor and new < actor
