"""``xiaozhi-server doctor``: every link from this process to the upstream, checked in order.

Each check passes, fails with the cause and the fix in words a person can act on, warns
(a setup that runs but will not do what a real deployment needs), or is skipped because an
earlier one failed or it is not configured.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx
import redis.asyncio as redis

from xiaozhi_server.config import Settings, mask_url
from xiaozhi_server.ops.features import effective_features
from xiaozhi_server.sources.binlog_checks import BinlogUnavailable, check_binlog
from xiaozhi_server.sources.upstream_db import TABLES, UpstreamDatabase
from xiaozhi_server.sources.upstream_errors import describe
from xiaozhi_server.store import migrate, rollup_recount
from xiaozhi_server.store.database import Store

COMPOSE_SNIPPET = """  services:
    xiaozhi-server:
      networks: [xiaozhi-upstream]
  networks:
    xiaozhi-upstream:
      external: true
      name: xiaozhi-server_default   # the upstream's network: see `docker network ls`"""


@dataclass(frozen=True, slots=True)
class Result:
    """One check's outcome: ``pass``, ``warn``, ``fail`` or ``skip``."""

    name: str
    state: str
    detail: str = ""


class Failed(Exception):
    """A check's failure: ``cause`` (what is wrong) and ``fix`` (what to do)."""

    def __init__(self, cause: str, fix: str = "") -> None:
        super().__init__(cause)
        self.cause = cause
        self.fix = fix


Check = tuple[str, Callable[[], Awaitable[str]]]


async def run_checks(settings: Settings) -> list[Result]:
    """Every check in order; the upstream ones stop at the first failure."""
    results = [await _run("settings valid", _ok("settings loaded"))]
    results.append(_capture_without_tap(settings))
    results.append(await _run("store reachable and migrated", lambda: _store(settings)))
    if results[-1].state == "pass":
        results.append(await _statistics(settings))
    results += await _chain(_upstream_checks(settings))
    if settings.esp32_server.manager_api_url:
        results.append(await _run("manager-api reachable", lambda: _manager_api(settings)))
    else:
        results.append(
            Result("manager-api reachable", "skip", "esp32_server.manager_api_url is not set")
        )
    if settings.notification.redis_url:
        results.append(await _run("Redis reachable", lambda: _redis(settings)))
    else:
        results.append(Result("Redis reachable", "skip", "notification.redis_url is not set"))
    return results


def _capture_without_tap(settings: Settings) -> Result:
    """A core pointed at a hub that only captures cannot start: it loads its configuration
    from manager-api.url (POST /config/server-base, …) before it reports anything."""
    name = "a real core can use this hub as its manager-api"
    features = effective_features(settings)
    if not features["capture"].enabled:
        return Result(name, "skip", "features.capture is off")
    if features["tap"].enabled and (url := settings.esp32_server.manager_api_url):
        return Result(name, "pass", f"tap forwards to {mask_url(url)}")
    return Result(
        name,
        "warn",
        f"capture is on but tap is off ({features['tap'].reason}): a real core whose "
        "manager-api.url points here cannot load its configuration and fails at start"
        "\n    fix: set esp32_server.manager_api_url to the real manager-api, e.g. "
        "http://xiaozhi-esp32-server-web:8002/xiaozhi, and keep features.tap on (capture "
        "alone suits only tools that post reports)",
    )


def _ok(detail: str) -> Callable[[], Awaitable[str]]:
    async def check() -> str:
        return detail

    return check


async def _run(name: str, check: Callable[[], Awaitable[str]]) -> Result:
    try:
        return Result(name, "pass", await check())
    except Failed as exc:
        return Result(name, "fail", f"{exc.cause}\n    fix: {exc.fix}" if exc.fix else exc.cause)
    except Exception as exc:  # doctor reports; it never crashes
        return Result(name, "fail", f"{type(exc).__name__}: {exc}")


async def _chain(checks: list[Check]) -> list[Result]:
    results: list[Result] = []
    for name, check in checks:
        if any(result.state == "fail" for result in results):
            results.append(Result(name, "skip", "an earlier check failed"))
            continue
        results.append(await _run(name, check))
    return results


async def _store(settings: Settings) -> str:
    store = Store(settings.storage.url)
    try:
        revision = await migrate.current_revision(store.engine)
    except Exception as exc:
        raise Failed(
            f"cannot open the store {store.safe_url}: {type(exc).__name__}",
            "check storage.url and that the database server is running",
        ) from None
    finally:
        await store.close()
    if revision != migrate.head_revision():
        raise Failed(
            f"the store is at revision {revision or 'none'}, not {migrate.head_revision()}",
            "run `xiaozhi-server db upgrade`",
        )
    return f"{store.safe_url} at {revision}"


async def _statistics(settings: Settings) -> Result:
    """A first copy stopped before its end leaves the statistics to a recount (they are
    counted from the messages meanwhile: right, but slow on long ranges)."""
    name = "statistics rollups up to date"
    store = Store(settings.storage.url)
    try:
        async with store.read() as connection:
            waiting = await connection.run_sync(rollup_recount.pending)
    finally:
        await store.close()
    if not waiting:
        return Result(name, "pass", "kept by every write")
    return Result(
        name,
        "warn",
        "a first copy stopped before its end: the statistics wait for a recount and are "
        "counted from the messages meanwhile (slower)"
        "\n    fix: run `xiaozhi-server sync --once` (or let the sync under `serve` run a pass)",
    )


def _upstream_checks(settings: Settings) -> list[Check]:
    db = settings.esp32_server.db
    upstream = UpstreamDatabase(settings.esp32_server)
    checks: list[Check] = [
        (f"upstream DB name {db.host!r} resolves", lambda: _resolves(db.host)),
        (
            f"TCP connects to {db.host}:{db.port}",
            lambda: _connects(db.host, db.port, settings.esp32_server.timeout),
        ),
        ("login works", lambda: _login(upstream, settings)),
        (
            "database and tables exist with the expected columns",
            lambda: _tables(upstream, settings),
        ),
        ("the user can read the tables", lambda: _readable(upstream, settings)),
    ]
    if settings.sync_service.mode == "binlog":
        checks.append(("binlog is ROW and the user may replicate", lambda: _binlog(upstream)))
    return checks


async def _resolves(host: str) -> str:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None)
    except socket.gaierror:
        raise Failed(
            f"the name {host!r} does not resolve: "
            "this host is not on the upstream's Docker network",
            "run xiaozhi-server in a container on that network. Find its name with "
            "`docker network ls` (usually xiaozhi-server_default), "
            "then in your compose file:\n"
            + COMPOSE_SNIPPET
            + "\n    or set esp32_server.db.host to an address this host can reach.",
        ) from None
    return str(infos[0][4][0])


async def _connects(host: str, port: int, seconds: float) -> str:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), seconds)
    except (OSError, TimeoutError) as exc:
        raise Failed(
            f"nothing accepts connections on {host}:{port} ({type(exc).__name__})",
            "check esp32_server.db.port; the upstream compose only `expose`s 3306 to its own "
            "network, so join that network or publish the port",
        ) from None
    writer.close()
    return "port open"


async def _login(upstream: UpstreamDatabase, settings: Settings) -> str:
    try:
        await upstream.ping()
    except Exception as exc:
        message = describe(exc, settings.esp32_server)
        raise Failed(message, "fix the credentials in esp32_server.db") from None
    return "logged in"


async def _tables(upstream: UpstreamDatabase, settings: Settings) -> str:
    try:
        found = await upstream.columns()
    except Exception as exc:
        raise Failed(describe(exc, settings.esp32_server)) from None
    problems = []
    for table, columns in TABLES.items():
        if table not in found:
            problems.append(f"table {table} is missing")
        elif missing := columns - found[table]:
            problems.append(f"{table} lacks {', '.join(sorted(missing))}")
    if problems:
        raise Failed(
            "; ".join(problems),
            f"is {settings.esp32_server.db.database} a "
            "xiaozhi-esp32-server database at a current version?",
        )
    return f"{len(TABLES)} tables"


async def _readable(upstream: UpstreamDatabase, settings: Settings) -> str:
    try:
        top = await upstream.max_message_id()
        await upstream.agents()
        await upstream.devices()
        await upstream.titles_changed(None, None, 1)
        await upstream.audio(["-"])
    except Exception as exc:
        raise Failed(
            describe(exc, settings.esp32_server), "GRANT SELECT on the database to the user"
        ) from None
    finally:
        await upstream.close()
    return f"chat history up to id {top}"


async def _binlog(upstream: UpstreamDatabase) -> str:
    try:
        return await check_binlog(upstream)
    except BinlogUnavailable as exc:
        raise Failed(exc.problem, exc.fix) from None
    finally:
        await upstream.close()


async def _manager_api(settings: Settings) -> str:
    url = settings.esp32_server.manager_api_url or ""
    try:
        async with httpx.AsyncClient(
            timeout=settings.esp32_server.timeout, trust_env=False
        ) as client:
            response = await client.get(url + "/")
    except httpx.HTTPError as exc:
        raise Failed(
            f"cannot reach manager-api at {mask_url(url)}: {type(exc).__name__}",
            "check esp32_server.manager_api_url (http://xiaozhi-esp32-server-web:8002/xiaozhi "
            "on the upstream's network)",
        ) from None
    return f"answered HTTP {response.status_code}"


async def _redis(settings: Settings) -> str:
    client = redis.from_url(settings.notification.redis_url or "")
    try:
        await client.ping()
    except Exception as exc:
        raise Failed(
            f"Redis does not answer: {type(exc).__name__}", "check notification.redis_url"
        ) from None
    finally:
        await client.aclose()
    return "PONG"
