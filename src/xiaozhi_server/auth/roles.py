"""Roles and what each may do: a viewer reads and searches; an admin may do everything.

Roles are ordered: every permission of a viewer is also an admin's. A route asks for the
lowest role that may use it (``require_reader`` or ``require_admin`` in guard.py).
"""

from __future__ import annotations

from typing import Literal, get_args

Role = Literal["viewer", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
Permission = Literal["read", "export", "erase", "unmask", "retention", "users", "audit"]

_PERMISSIONS: dict[Role, tuple[Permission, ...]] = {
    "viewer": ("read",),
    "admin": ("read", "export", "erase", "unmask", "retention", "users", "audit"),
}


def permissions(role: Role) -> tuple[Permission, ...]:
    """What ``role`` may do."""
    return _PERMISSIONS[role]


def at_least(role: Role, needed: Role) -> bool:
    """True if ``role`` is ``needed`` or above it."""
    return ROLES.index(role) >= ROLES.index(needed)
