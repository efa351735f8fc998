"""The rooms permission matrix, role by role (docs/rooms.md shows the same table)."""

from __future__ import annotations

import itertools

import pytest

from keyboards.rooms import NEEDS, PanelAction
from services.rooms.roles import ASSIGNABLE, MATRIX, Permission, Role, allowed, may_assign

P = Permission
EXPECTED: dict[Role, set[Permission]] = {
    Role.READER: {P.VIEW_PANEL, P.USAGE_OWN},
    Role.GUEST: {P.VIEW_PANEL, P.USAGE_OWN, P.ASK, P.REGENERATE_OWN, P.EXCLUDE_OWN, P.STOP_OWN},
    Role.MEMBER: {P.VIEW_PANEL, P.USAGE_OWN, P.ASK, P.REGENERATE_OWN, P.EXCLUDE_OWN, P.STOP_OWN},
    Role.ADMIN: {
        P.VIEW_PANEL,
        P.USAGE_OWN,
        P.ASK,
        P.REGENERATE_OWN,
        P.EXCLUDE_OWN,
        P.STOP_OWN,
        P.REGENERATE_ANY,
        P.EXCLUDE_ANY,
        P.STOP_ANY,
        P.USAGE_ALL,
        P.NEW_CONTEXT,
        P.CHANGE_MODEL,
        P.CHANGE_PERSONA,
        P.CHANGE_SETTINGS,
        P.MANAGE_ROLES,
    },
}
EXPECTED[Role.MASTER] = EXPECTED[Role.ADMIN] | {P.SET_BUDGET, P.HAND_OVER}


@pytest.mark.parametrize("role", list(Role))
def test_each_role_has_exactly_its_permissions(role: Role) -> None:
    assert set(MATRIX[role]) == EXPECTED[role]
    for permission in Permission:
        assert allowed(role, permission) is (permission in EXPECTED[role])


def test_a_higher_role_can_do_everything_a_lower_one_can() -> None:
    ordered = sorted(Role, key=lambda r: r.rank)
    for lower, higher in itertools.pairwise(ordered):
        assert MATRIX[lower] <= MATRIX[higher]
        assert lower < higher


def test_only_the_master_sets_the_budget_and_hands_over() -> None:
    for role in Role:
        assert allowed(role, P.SET_BUDGET) is (role is Role.MASTER)
        assert allowed(role, P.HAND_OVER) is (role is Role.MASTER)


def test_readers_cannot_ask() -> None:
    assert not allowed(Role.READER, P.ASK)
    assert all(allowed(r, P.ASK) for r in Role if r is not Role.READER)


def test_role_changes() -> None:
    # the Master may give any assignable role to anyone but themselves
    for target in ASSIGNABLE:
        for new in ASSIGNABLE:
            assert may_assign(Role.MASTER, target, new)
    assert not may_assign(Role.MASTER, Role.MASTER, Role.ADMIN)
    # an Admin ranks only people below Admin, and only up to Member
    assert may_assign(Role.ADMIN, Role.MEMBER, Role.READER)
    assert may_assign(Role.ADMIN, Role.READER, Role.MEMBER)
    assert not may_assign(Role.ADMIN, Role.MEMBER, Role.ADMIN)
    assert not may_assign(Role.ADMIN, Role.ADMIN, Role.READER)
    assert not may_assign(Role.ADMIN, Role.MASTER, Role.READER)
    # nobody is made Master by assignment; Members and below rank nobody
    assert Role.MASTER not in ASSIGNABLE
    for actor in (Role.READER, Role.GUEST, Role.MEMBER):
        assert not may_assign(actor, Role.READER, Role.READER)


def test_every_panel_button_names_a_permission() -> None:
    special = {PanelAction.SETUP, PanelAction.HANDOVER_YES, PanelAction.HANDOVER_NO}
    assert set(NEEDS) | special == set(PanelAction)
    assert NEEDS[PanelAction.BUDGET_SET] is P.SET_BUDGET
    assert NEEDS[PanelAction.MODEL_SET] is P.CHANGE_MODEL
