"""``/ws/admin``: the live feed of everything ingest commits.

After authenticating, a client receives every event (``chat_update``, ``session_update``,
``device_update``, ``agent_update``, ``sync_status``) until it narrows them with
``subscribe``. ``resume`` with the last message id it saw replays what it missed from the
store, then carries on live: nothing is missed and nothing is sent twice. Events reach the
client through the process's ``Fanout`` (fanout.py); this module is the conversation.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict

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
from xiaozhi_server.realtime.channel import AsgiChannel, Channel
from xiaozhi_server.realtime.direct import direct_channel
from xiaozhi_server.realtime.fanout import CLOSE_INTERNAL, CLOSE_TOO_SLOW, FeedClient
from xiaozhi_server.realtime.masking import EventView, feed_view
from xiaozhi_server.realtime.origins import origin_allowed
from xiaozhi_server.realtime.payloads import message_payload
from xiaozhi_server.realtime.protocol import (
    Auth,
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
CLOSE_FULL = 1013  # "try again later"
AUTH_TIMEOUT_SECONDS = 10.0
REPLAY_PAGE = 500

__all__ = ["CLOSE_INTERNAL", "CLOSE_TOO_SLOW", "router"]

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
    """One connected client: its commands in, its events out through the fan-out."""

    def __init__(
        self, websocket: WebSocket, services: Services, principal: Principal, view: EventView
    ) -> None:
        self._websocket = websocket
        self._services = services
        self._principal = principal
        self._view = view
        self._replaying = asyncio.Lock()  # one replay at a time: a resume, or a catch-up
        self._catching_up: set[asyncio.Task[None]] = set()

    async def run(self) -> str:
        """Serve the client; return why it ended (for metrics)."""
        channel = _channel(self._websocket)
        fanout = self._services.fanout
        client = fanout.join(channel, self._view)
        try:
            reason = await self._serve(client)
        except Exception:
            log.exception("feed session failed")
            channel.close(CLOSE_INTERNAL, "internal error", 1.0)
            return "internal_error"
        finally:
            fanout.leave(client)
            for task in self._catching_up:
                task.cancel()
            channel.release()
        if client.closed_code is not None:
            return "too_slow" if client.closed_code == CLOSE_TOO_SLOW else "internal_error"
        return reason

    async def _serve(self, client: FeedClient) -> str:
        # The client joined first: anything after this id arrives live, so a client can
        # resume from it after a dropped connection.
        last_id = await max_message_id(self._services.store)
        welcome = {
            "principal": self._principal.name,
            "last_message_id": last_id,
            "worker": self._services.worker_index,
        }
        await client.write_now([Event("welcome", welcome)])
        client.release()
        client.catch_up = lambda after_id: self._catch_up(client, after_id)
        return await self._read(client)

    def _catch_up(self, client: FeedClient, after_id: int) -> None:
        """Replay, as if the client had asked to resume from ``after_id``."""
        task = asyncio.create_task(self._replay(client, after_id))
        self._catching_up.add(task)
        task.add_done_callback(self._catching_up.discard)

    async def _read(self, client: FeedClient) -> str:
        while True:
            try:
                text = await self._websocket.receive_text()
            except (WebSocketDisconnect, KeyError, RuntimeError):
                return "client_closed"
            try:
                await self._handle(client, parse_command(text))
            except ProtocolError as exc:
                client.send(Event("error", {"message": str(exc)}))

    async def _handle(self, client: FeedClient, command: object) -> None:
        fanout = self._services.fanout
        if isinstance(command, Subscribe):
            fanout.subscribe(client, command.filters)
            client.send(Event("subscribed", {"filters": asdict(command.filters)}))
        elif isinstance(command, Unsubscribe):
            fanout.subscribe(client, None)
            client.send(Event("unsubscribed", {}))
        elif isinstance(command, Ping):
            client.send(Event("pong", {}))
        elif isinstance(command, Resume):
            await self._replay(client, command.since)
        else:
            client.send(Event("error", {"message": "already authenticated"}))

    async def _replay(self, client: FeedClient, since: int) -> None:
        """Send stored messages after ``since``, a page per frame; live events wait."""
        async with self._replaying:
            await self._replay_pages(client, since)

    async def _replay_pages(self, client: FeedClient, since: int) -> None:
        filters = client.filters
        replayed, last = 0, since
        client.hold()
        try:
            while True:
                rows = await messages_after(
                    self._services.store,
                    last,
                    REPLAY_PAGE,
                    filters.device,
                    filters.agent,
                    filters.session,
                )
                events = [self._view(Event("chat_update", message_payload(row))) for row in rows]
                page = [
                    event
                    for event in events
                    if filters.matches(event) and not client.was_sent(event.data["id"])
                ]
                if page and not await client.write_now(page):
                    return
                replayed += len(page)
                last = rows[-1]["id"] if rows else last
                if len(rows) < REPLAY_PAGE:
                    break
            summary = Event("resumed", {"since": since, "replayed": replayed})
            await client.write_now([summary])
        finally:
            client.release(last)


def _channel(websocket: WebSocket) -> Channel:
    direct = direct_channel(websocket.scope)
    if direct is None:
        return AsgiChannel(websocket)
    direct.claim()
    return direct
