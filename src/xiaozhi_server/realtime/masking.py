"""What one feed client sees: chat text masked as ``privacy.mask`` says, or as stored.

An admin may open ``/ws/admin?unmask=true`` for text as stored (recorded in the audit
trail, once per connection); a viewer asking for it is closed with 4403.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import WebSocket

from xiaozhi_server.auth.guard import WS_FORBIDDEN, Principal, client_address
from xiaozhi_server.privacy.unmasking import record_unmask
from xiaozhi_server.realtime.bus import Event
from xiaozhi_server.services import Services

EventView = Callable[[Event], Event]


def _as_stored(event: Event) -> Event:
    return event


async def feed_view(
    websocket: WebSocket, services: Services, principal: Principal
) -> EventView | None:
    """How events look to this client; None if it asked for more than its role allows
    (the connection is closed then)."""
    if websocket.query_params.get("unmask", "").lower() not in ("true", "1"):
        return services.masked_events if services.masker else _as_stored
    if not principal.may("unmask"):
        await websocket.close(WS_FORBIDDEN, "forbidden: unmask needs the admin role")
        return None
    if services.masker:
        actor = (principal.name, principal.kind)
        address = client_address(websocket)
        await record_unmask(services.store, services.masker, actor, address, "/ws/admin", {})
    return _as_stored
