"""Roles and what each may do: a viewer reads, searches and marks (stars, notes, tags);
an admin may do everything, sharing a conversation by link included.

Roles are ordered: every permission of a viewer is also an admin's. A route asks for the
lowest role that may use it (``require_reader`` or ``require_admin`` in guard.py).
"""

from __future__ import annotations

from typing import Literal, get_args

Role = Literal["viewer", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
Permission = Literal[
    "read", "annotate", "share", "export", "erase", "unmask", "retention", "users", "audit"
]

_PERMISSIONS: dict[Role, tuple[Permission, ...]] = {
    # Marks add no access to anything, and every change is audited: viewers may mark.
    "viewer": ("read", "annotate"),
    # A share link hands a conversation to people without an account, as an export does.
    "admin": (
        "read",
        "annotate",
        "share",
        "export",
        "erase",
        "unmask",
        "retention",
        "users",
        "audit",
    ),
}


def permissions(role: Role) -> tuple[Permission, ...]:
    """What ``role`` may do."""
    return _PERMISSIONS[role]


def at_least(role: Role, needed: Role) -> bool:
    """True if ``role`` is ``needed`` or above it."""
    return ROLES.index(role) >= ROLES.index(needed)
