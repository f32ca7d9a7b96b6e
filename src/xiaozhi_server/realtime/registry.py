"""Who is connected to the admin feed, so the subscriber limit holds."""

from __future__ import annotations

from xiaozhi_server.ops.metrics import WEBSOCKET_CONNECTIONS


class FeedRegistry:
    """Counts connected feed clients against ``notification.max_subscribers``."""

    def __init__(self, max_clients: int) -> None:
        self.max_clients = max_clients
        self.clients = 0

    def try_join(self) -> bool:
        """Take a place if one is free."""
        if self.clients >= self.max_clients:
            return False
        self.clients += 1
        WEBSOCKET_CONNECTIONS.inc()
        return True

    def leave(self) -> None:
        """Give a place back."""
        self.clients -= 1
        WEBSOCKET_CONNECTIONS.dec()
