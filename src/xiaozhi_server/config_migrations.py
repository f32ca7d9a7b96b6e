"""Older settings keys, carried forward: the ``config_version`` of a file and the table of
keys renamed or retired since, applied to the YAML data and to ``XIAOZHI_…`` overrides
before validation.

A key that moved is moved (with a one-line warning naming the new key); a key with no
equivalent is dropped (with a warning saying what the hub does instead). To rename a key
later: bump ``CURRENT_VERSION`` and add a line to ``CHANGES``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# The version a file written for this release declares; a file without one is version 1.
CURRENT_VERSION = 2
VERSION_KEY = "config_version"


@dataclass(frozen=True, slots=True)
class KeyChange:
    """One key of an older version: where its value goes now, or why it has no place."""

    version: int  # the first config_version without ``old``
    old: str  # dotted key path, e.g. esp32_server.api_url
    new: str | None = None  # dotted key path that takes the value, if any
    instead: str = ""  # for a retired key: what the hub does instead


CHANGES: tuple[KeyChange, ...] = (
    # The seed called manager-api's URL `api_url`.
    KeyChange(2, "esp32_server.api_url", new="esp32_server.manager_api_url"),
    # The core's device WebSocket (ws://…:8000/xiaozhi/v1/): the hub never connects to it.
    KeyChange(
        2,
        "esp32_server.websocket_url",
        instead="the hub takes the core's reports over HTTP (the core's manager-api.url "
        "points at it), so there is nothing to set",
    ),
    # The seed served its live feed on a port of its own; the hub serves it at /ws/admin.
    KeyChange(
        2,
        "notification.websocket_port",
        instead="the hub serves the live feed at /ws/admin on server.port; use server.port",
    ),
)


class MigrationError(Exception):
    """Settings that cannot be carried forward; the message says why and what to do."""


def file_version(data: dict[str, Any], where: str) -> int:
    """Remove and return ``config_version`` from ``data`` (1 when absent)."""
    version = data.pop(VERSION_KEY, 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise MigrationError(
            f"{where}: {VERSION_KEY} must be a whole number from 1 to {CURRENT_VERSION}, "
            f"not {version!r}"
        )
    if version > CURRENT_VERSION:
        raise MigrationError(
            f"{where}: {VERSION_KEY} {version} is newer than this xiaozhi-server understands "
            f"({CURRENT_VERSION}): upgrade xiaozhi-server, or write the file for version "
            f"{CURRENT_VERSION} (see config/xiaozhi-server.example.yaml)"
        )
    return version


def migrate_file(data: dict[str, Any], where: str) -> tuple[dict[str, Any], list[str]]:
    """``data`` (a settings file's mapping) in the current layout, and one warning per key moved."""
    version = file_version(data, where)
    changes = [change for change in CHANGES if change.version > version]
    return _apply(data, changes, where, _dotted)


def migrate_environment(data: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The nested ``XIAOZHI_…`` overrides in the current layout, and their warnings.

    The environment has no version: every older name is recognised.
    """
    return _apply(data, list(CHANGES), "environment", env_name)


def retired_hint(path: tuple[str, ...]) -> str | None:
    """For a key unknown to the current version: what became of it, if it is an older key."""
    dotted = ".".join(path)
    for change in CHANGES:
        if change.old == dotted:
            if change.new is not None:
                return f"renamed to {change.new} in {VERSION_KEY} {change.version}"
            return f"retired in {VERSION_KEY} {change.version}: {change.instead}"
    return None


def env_name(path: str) -> str:
    """The environment variable that sets the dotted key ``path``."""
    return "XIAOZHI_" + path.replace(".", "__").upper()


def _dotted(path: str) -> str:
    return path


def _apply(
    data: dict[str, Any], changes: list[KeyChange], where: str, spell: Callable[[str], str]
) -> tuple[dict[str, Any], list[str]]:
    warnings: list[str] = []
    for change in changes:
        found, value = _pop(data, change.old)
        if not found:
            continue
        old = spell(change.old)
        if change.new is None:
            warnings.append(f"{where}: {old} is deprecated and ignored: {change.instead}")
            continue
        new = spell(change.new)
        _move(data, value, change.new, old, new, where)
        warnings.append(f"{where}: {old} is deprecated, use {new} (its value was applied)")
    return data, warnings


def _move(data: dict[str, Any], value: Any, path: str, old: str, new: str, where: str) -> None:
    present, current = _get(data, path)
    if present and current is not None and value is not None and current != value:
        raise MigrationError(
            f"{where}: {old} (deprecated) and {new} are both set, to different values: "
            f"keep only {new}"
        )
    if value is not None and not (present and current is not None):
        _set(data, path, value)


def _parent(data: dict[str, Any], path: str, create: bool) -> tuple[dict[str, Any] | None, str]:
    *sections, key = path.split(".")
    node: Any = data
    for section in sections:
        if not isinstance(node, dict):
            return None, key
        if create and node.get(section) is None:
            node[section] = {}
        node = node.get(section)
    return (node if isinstance(node, dict) else None), key


def _pop(data: dict[str, Any], path: str) -> tuple[bool, Any]:
    parent, key = _parent(data, path, create=False)
    if parent is None or key not in parent:
        return False, None
    return True, parent.pop(key)


def _get(data: dict[str, Any], path: str) -> tuple[bool, Any]:
    parent, key = _parent(data, path, create=False)
    if parent is None or key not in parent:
        return False, None
    return True, parent[key]


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    parent, key = _parent(data, path, create=True)
    if parent is not None:
        parent[key] = value
