"""User management, the same from the CLI and the console: checked, hashed and audited.

Every change appends an audit entry (``user_add``, ``user_password``, ``user_role``,
``user_remove``) naming who made it; never a password, not even hashed.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

from xiaozhi_server.auth.passwords import hash_password
from xiaozhi_server.auth.roles import Role
from xiaozhi_server.store import admins
from xiaozhi_server.store.admins import LastAdmin
from xiaozhi_server.store.audit import AuditEntry, record
from xiaozhi_server.store.database import Store

MAX_NAME = 64
# A name HTTP Basic can carry (no ':'), with no control characters and no space at either
# end (exactly what str.isspace() calls space): a JSON Schema pattern and the check alike.
_SPACE = r"\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_INNER = r":\x00-\x1f\x7f-\x9f"
NAME_PATTERN = rf"^[^{_INNER}{_SPACE}](?:[^{_INNER}]*[^{_INNER}{_SPACE}])?$"
MIN_PASSWORD = 8
MAX_PASSWORD = 256

__all__ = ["Actor", "LastAdmin", "UserError", "add", "change_password", "change_role", "remove"]


class UserError(Exception):
    """A change that cannot be made: ``kind`` is bad_name, bad_password, exists or unknown."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class Actor:
    """Who makes a change, for the audit trail."""

    name: str
    kind: str
    address: str | None = None


def name_problem(name: str) -> str | None:
    """Why ``name`` cannot be a user's name (HTTP Basic must be able to carry it), or None."""
    if not 1 <= len(name) <= MAX_NAME:
        return f"must be 1 to {MAX_NAME} characters"
    if ":" in name:
        return "must not contain ':' (HTTP Basic could not carry it)"
    if any("\ud800" <= char <= "\udfff" for char in name):
        return "must be valid Unicode"
    if not re.fullmatch(NAME_PATTERN, name):
        return "must not contain control characters, nor spaces at either end"
    return None


def password_problem(password: str) -> str | None:
    """Why ``password`` is not acceptable for a new password, or None."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        return f"must be {MIN_PASSWORD} to {MAX_PASSWORD} characters"
    if "\x00" in password:
        return "must not contain NUL characters"
    return None


async def add(store: Store, name: str, role: Role, password: str, actor: Actor) -> dict[str, Any]:
    """Create a user; raise UserError if the name or password is not acceptable or taken."""
    _check(name_problem(name), "bad_name", "name")
    _check(password_problem(password), "bad_password", "password")
    hashed = await asyncio.to_thread(hash_password, password)
    if not await admins.create_user(store, name, hashed, role):
        raise UserError("exists", f"user {name!r} already exists")
    await _record(store, actor, "user_add", name, {"role": role})
    return await _shown(store, name)


async def change_password(store: Store, name: str, password: str, actor: Actor) -> dict[str, Any]:
    """Set a new password; the user's console sessions end."""
    _check(password_problem(password), "bad_password", "password")
    hashed = await asyncio.to_thread(hash_password, password)
    if not await admins.set_password_hash(store, name, hashed):
        raise _unknown(name)
    await _record(store, actor, "user_password", name, {})
    return await _shown(store, name)


async def change_role(store: Store, name: str, role: Role, actor: Actor) -> dict[str, Any]:
    """Give the user ``role``; raise LastAdmin rather than leave no admin."""
    before = await admins.get_user(store, name)
    if before is None:
        raise _unknown(name)
    if before["role"] != role:
        if not await admins.set_role(store, name, role):
            raise _unknown(name)
        await _record(store, actor, "user_role", name, {"from": before["role"], "to": role})
    return await _shown(store, name)


async def remove(store: Store, name: str, actor: Actor) -> None:
    """Remove the user and end their sessions; raise LastAdmin rather than leave no admin."""
    before = await admins.get_user(store, name)
    if before is None or not await admins.remove_user(store, name):
        raise _unknown(name)
    await _record(store, actor, "user_remove", name, {"role": before["role"]})


def _check(problem: str | None, kind: str, what: str) -> None:
    if problem is not None:
        raise UserError(kind, f"{what}: {problem}")


def _unknown(name: str) -> UserError:
    return UserError("unknown", f"no user {name!r}")


async def _shown(store: Store, name: str) -> dict[str, Any]:
    user = await admins.get_user(store, name)
    if user is None:  # removed by someone else in between
        raise _unknown(name)
    return user


async def _record(
    store: Store, actor: Actor, action: str, name: str, detail: dict[str, Any]
) -> None:
    entry = AuditEntry(actor.name, actor.kind, action, f"user {name}", actor.address, detail)
    await record(store, entry)
