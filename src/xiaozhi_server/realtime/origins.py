"""Which web pages may open the feed: the hub's own, and those the settings allow.

A browser sends the console's session cookie with any WebSocket handshake, whichever page
opens it, and WebSockets are not bound by the same-origin policy: without this check any
site an admin visits could read the feed in their name (cross-site WebSocket hijacking).
Programs that are not browsers send no ``Origin`` and are not affected. Behind a reverse
proxy that rewrites ``Host``, ``X-Forwarded-Host`` names the public host: a page cannot set
that header on a browser's handshake, so trusting it opens nothing to other sites.
"""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import urlsplit


def origin_allowed(origin: str | None, hosts: Collection[str], allowed: Collection[str]) -> bool:
    """True if a handshake from ``origin`` to one of ``hosts`` may go on."""
    if origin is None:
        return True
    if origin.rstrip("/").lower() in {entry.rstrip("/").lower() for entry in allowed}:
        return True
    try:
        netloc = urlsplit(origin).netloc.lower()
    except ValueError:
        return False
    return netloc in {host.strip().lower() for host in hosts if host.strip()}
