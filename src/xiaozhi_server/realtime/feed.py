"""``/ws/admin``: the live feed of everything ingest commits.

After authenticating, a client receives every event (``chat_update``, ``session_update``,
``device_update``, ``agent_update``, ``sync_status``) until it narrows them with
``subscribe``. ``resume`` with the last message id it saw replays what it missed from the
store, then carries on live: nothing is missed and nothing is sent twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from xiaozhi_server.auth.guard import (
    WS_POLICY_VIOLATION,
    WS_TOO_MANY_FAILURES,
    Principal,
    SignInThrottled,
    client_address,
)
from xiaozhi_server.ops.metrics import WEBSOCKET_DISCONNECTS
from xiaozhi_server.realtime.bus import Event
from xiaozhi_server.realtime.masking import EventView, feed_view
from xiaozhi_server.realtime.origins import origin_allowed
from xiaozhi_server.realtime.payloads import message_payload
from xiaozhi_server.realtime.protocol import (
    Auth,
    Filters,
    Ping,
    ProtocolError,
    Resume,
    Subscribe,
    Unsubscribe,
    parse_command,
)
from xiaozhi_server.services import Services, get_services
from xiaozhi_server.store.messages import max_message_id, messages_after

CLOSE_AUTH_FAILED = 4401
CLOSE_TOO_SLOW = 4408
CLOSE_FULL = 1013  # "try again later"
CLOSE_INTERNAL = 1011
AUTH_TIMEOUT_SECONDS = 10.0
REPLAY_PAGE = 500
_REMEMBERED_IDS = 10_000

log = logging.getLogger(__name__)
router = APIRouter()


@router.websocket("/ws/admin")
async def admin_feed(websocket: WebSocket) -> None:
    """Authenticate, take a place, then stream events until either side leaves."""
    services = get_services(websocket)
    origin = websocket.headers.get("origin")
    allowed = services.settings.notification.allowed_origins
    hosts = [websocket.headers.get(name, "") for name in ("host", "x-forwarded-host")]
    if not origin_allowed(origin, hosts, allowed):
        WEBSOCKET_DISCONNECTS.labels("origin_refused").inc()
        # Closing before accepting answers the handshake with 403.
        await websocket.close(WS_POLICY_VIOLATION, "origin not allowed")
        return
    await websocket.accept()
    principal = await _authenticate(websocket, services)
    if principal is None:
        return
    view = await feed_view(websocket, services, principal)  # masked, unless unmask=true
    if view is None:
        return
    registry = services.feed
    if not registry.try_join():
        WEBSOCKET_DISCONNECTS.labels("full").inc()
        await websocket.close(CLOSE_FULL, f"too many subscribers (max {registry.max_clients})")
        return
    try:
        reason = await FeedSession(websocket, services, principal, view).run()
    finally:
        registry.leave()
    WEBSOCKET_DISCONNECTS.labels(reason).inc()


async def _authenticate(websocket: WebSocket, services: Services) -> Principal | None:
    authenticator = services.authenticator
    try:
        principal = await authenticator.authenticate(websocket)
        if principal is None and "token" not in websocket.query_params:
            principal = await _first_message_auth(websocket, services)
    except SignInThrottled as exc:
        WEBSOCKET_DISCONNECTS.labels("auth_throttled").inc()
        await websocket.close(WS_TOO_MANY_FAILURES, str(exc))
        return None
    if principal is None:
        WEBSOCKET_DISCONNECTS.labels("auth_failed").inc()
        await websocket.close(
            CLOSE_AUTH_FAILED,
            "authentication failed: pass ?token=<api token> or send "
            '{"type":"auth","token":...} first',
        )
    return principal


async def _first_message_auth(websocket: WebSocket, services: Services) -> Principal | None:
    try:
        text = await asyncio.wait_for(websocket.receive_text(), AUTH_TIMEOUT_SECONDS)
        command = parse_command(text)
    except (TimeoutError, ProtocolError, WebSocketDisconnect, KeyError):
        return None
    if not isinstance(command, Auth):
        return None
    if command.token:
        return await services.authenticator.check_bearer(command.token)
    if command.username and command.password:
        return await services.authenticator.check_password(
            command.username, command.password, client_address(websocket)
        )
    return None


class FeedSession:
    """One connected client: a bounded event queue, a reader and a writer."""

    def __init__(
        self, websocket: WebSocket, services: Services, principal: Principal, view: EventView
    ) -> None:
        self._websocket = websocket
        self._view = view
        self._services = services
        self._principal = principal
        self._filters = Filters()
        self._active = True
        self._send_lock = asyncio.Lock()
        self._sent: deque[int] = deque(maxlen=_REMEMBERED_IDS)
        self._sent_set: set[int] = set()
        queue_size = services.settings.notification.queue_size
        self._subscription = services.bus.subscribe(queue_size, self._wants)

    async def run(self) -> str:
        """Serve the client; return why it ended (for metrics)."""
        # The subscription already exists: anything after this id arrives live, so a client
        # can resume from it after a dropped connection.
        last_id = await max_message_id(self._services.store)
        welcome = {"principal": self._principal.name, "last_message_id": last_id}
        await self._send({"type": "welcome", "data": welcome})
        reader = asyncio.create_task(self._read())
        writer = asyncio.create_task(self._write())
        done, pending = await asyncio.wait({reader, writer}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        self._subscription.close()
        try:
            reason = next(iter(done)).result()
        except Exception:
            log.exception("feed session failed")
            with contextlib.suppress(Exception):
                await self._websocket.close(CLOSE_INTERNAL, "internal error")
            return "internal_error"
        if reason == "too_slow":
            with contextlib.suppress(Exception):
                await self._websocket.close(
                    CLOSE_TOO_SLOW, self._subscription.closed_reason or "too slow"
                )
        return str(reason)

    def _wants(self, event: Event) -> bool:
        return self._active and self._filters.matches(event)

    async def _read(self) -> str:
        while True:
            try:
                text = await self._websocket.receive_text()
            except (WebSocketDisconnect, KeyError, RuntimeError):
                return "client_closed"
            try:
                await self._handle(parse_command(text))
            except ProtocolError as exc:
                await self._send({"type": "error", "data": {"message": str(exc)}})

    async def _handle(self, command: object) -> None:
        if isinstance(command, Subscribe):
            self._filters, self._active = command.filters, True
            await self._send({"type": "subscribed", "data": {"filters": asdict(command.filters)}})
        elif isinstance(command, Unsubscribe):
            self._active = False
            await self._send({"type": "unsubscribed", "data": {}})
        elif isinstance(command, Ping):
            await self._send({"type": "pong", "data": {}})
        elif isinstance(command, Resume):
            await self._replay(command.since)
        else:
            await self._send({"type": "error", "data": {"message": "already authenticated"}})

    async def _replay(self, since: int) -> None:
        """Send stored messages after ``since``; live events wait behind the send lock."""
        replayed, last = 0, since
        async with self._send_lock:
            while True:
                rows = await messages_after(
                    self._services.store,
                    last,
                    REPLAY_PAGE,
                    self._filters.device,
                    self._filters.agent,
                    self._filters.session,
                )
                for row in rows:
                    if self._remember(row["id"]):
                        event = self._view(Event("chat_update", message_payload(row)))
                        await self._send_text(event.to_text())
                        replayed += 1
                if len(rows) < REPLAY_PAGE:
                    break
                last = rows[-1]["id"]
            summary = {"since": since, "replayed": replayed}
            await self._send_text(_wire("resumed", summary))

    async def _write(self) -> str:
        async for event in self._subscription:
            message_id = event.data.get("id") if event.type == "chat_update" else None
            async with self._send_lock:
                if message_id is not None and not self._remember(message_id):
                    continue
                # No per-send timeout (a task per send costs more than the send): a peer that
                # stops reading fills its bounded queue, a dead one misses protocol pings.
                try:
                    await self._send_text(self._view(event).to_text())
                except (WebSocketDisconnect, RuntimeError):
                    return "client_closed"
        return "too_slow" if self._subscription.closed_reason else "server_closed"

    def _remember(self, message_id: int) -> bool:
        """Record ``message_id`` as sent; False if it was sent before."""
        if message_id in self._sent_set:
            return False
        if len(self._sent) == self._sent.maxlen:
            self._sent_set.discard(self._sent[0])
        self._sent.append(message_id)
        self._sent_set.add(message_id)
        return True

    async def _send(self, message: dict[str, Any]) -> None:
        async with self._send_lock:
            await self._send_text(_wire(message["type"], message["data"]))

    async def _send_text(self, text: str) -> None:
        await self._websocket.send_text(text)


def _wire(kind: str, data: dict[str, Any]) -> str:
    return Event(kind, data).to_text()
