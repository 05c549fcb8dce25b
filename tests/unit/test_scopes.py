"""Roles -> scopes (DESIGN "Access"; the "operate on clients" issue)."""

import uuid

import pytest

from shared.access import ROLE_SCOPES, MissingScopeError, Principal, require


def test_each_role_has_exactly_its_scopes() -> None:
    assert {role: sorted(s) for role, s in ROLE_SCOPES.items()} == {
        "viewer": ["clients:read"],
        "member": ["clients:read", "clients:write"],
        "admin": ["clients:delete", "clients:export", "clients:read", "clients:write",
                  "settings:write"],
        "owner": ["clients:delete", "clients:erase", "clients:export", "clients:read",
                  "clients:write", "settings:write"],
    }


def test_a_missing_scope_is_refused_naming_it() -> None:
    viewer = Principal("member", uuid.uuid4(), uuid.uuid4(), "Vi", ROLE_SCOPES["viewer"])
    require(viewer, "clients:read")
    with pytest.raises(MissingScopeError, match="missing scope clients:write") as refused:
        require(viewer, "clients:write")
    assert refused.value.scope == "clients:write"
