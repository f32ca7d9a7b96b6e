"""The audit entry of every look at text as stored while masking is on."""

from __future__ import annotations

from typing import Any

from xiaozhi_server.privacy.masking import Masker
from xiaozhi_server.store.audit import AuditEntry, record
from xiaozhi_server.store.database import Store


async def record_unmask(
    store: Store,
    masker: Masker,
    actor: tuple[str, str],
    address: str,
    target: str,
    filters: dict[str, Any],
) -> None:
    """Append ``unmask``: who (name, kind) saw ``target`` as stored, from where, with what
    filters, and what masking they were let past. Never the text."""
    detail = {"filters": filters, "masking": list(masker.kinds)}
    entry = AuditEntry(actor[0], actor[1], "unmask", target, address, detail)
    await record(store, entry)
