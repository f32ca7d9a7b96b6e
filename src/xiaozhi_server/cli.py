"""The ``xiaozhi-server`` command."""

from __future__ import annotations

import asyncio
import functools
import getpass
import os
import sys
from collections.abc import Awaitable, Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, TypeVar

import typer
import uvicorn
from pydantic import SecretStr

from xiaozhi_server.app import BackgroundTask, create_app, server_config
from xiaozhi_server.auth import users
from xiaozhi_server.auth.passwords import new_password
from xiaozhi_server.config import ConfigError, Settings, read_settings
from xiaozhi_server.ops.backup import export_archive, import_archive
from xiaozhi_server.ops.config_view import effective_yaml
from xiaozhi_server.ops.doctor import run_checks
from xiaozhi_server.ops.logs import configure_logging
from xiaozhi_server.privacy import commands as privacy
from xiaozhi_server.services import Services, data_policy
from xiaozhi_server.sources.simulator import run_live, seed_history
from xiaozhi_server.sources.sync import PassSummary
from xiaozhi_server.sources.sync_runner import SyncFailed, run_sync
from xiaozhi_server.store import admins, migrate
from xiaozhi_server.store.database import Store
from xiaozhi_server.workers import serve_workers

app = typer.Typer(
    help="xiaozhi-server: the chat-history hub for xiaozhi-esp32-server.", no_args_is_help=True
)
db_app = typer.Typer(help="Manage the store's schema (Alembic migrations).", no_args_is_help=True)
app.add_typer(db_app, name="db")
config_app = typer.Typer(help="Inspect the settings.", no_args_is_help=True)
app.add_typer(config_app, name="config")
users_app = typer.Typer(
    help="Manage who signs in: viewers read and search, admins may do everything.",
    no_args_is_help=True,
)
app.add_typer(users_app, name="users")

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="Settings file (YAML).", show_default=False)
]
HostOption = Annotated[str | None, typer.Option(help="Address to listen on (default 127.0.0.1).")]
PortOption = Annotated[int | None, typer.Option(help="Port to listen on (default 8004).")]
DEMO_STORAGE_URL = "sqlite+aiosqlite:///./data/demo.db"
T = TypeVar("T")


class CommandError(Exception):
    """A command refused for a reason its message says in full (shown without a type)."""


def main() -> None:
    """Entry point of the console script."""
    app()


@app.command()
def serve(config: ConfigOption = None, host: HostOption = None, port: PortOption = None) -> None:
    """Run the HTTP server (API, report endpoint, WebSocket feed, console)."""
    settings = _settings(config, host, port)
    _serve(settings, ())


@app.command()
def demo(
    config: ConfigOption = None,
    host: HostOption = None,
    port: PortOption = None,
    speed: Annotated[float, typer.Option(help="Talk faster (2 = twice the pace).", min=0.01)] = 1.0,
) -> None:
    """Serve on an embedded SQLite store with simulated devices talking to it."""
    settings = _settings(config, host, port)
    if config is None and "XIAOZHI_STORAGE__URL" not in os.environ:
        settings.storage.url = DEMO_STORAGE_URL
    if settings.auth.admin_password is None:
        password = new_password()
        settings.auth.admin_password = SecretStr(password)
        typer.echo(f"Demo admin: {settings.auth.admin_username} / {password}", err=True)
    _serve(settings, (_demo_task(speed),), demo_mode=True)


@app.command()
def sync(
    config: ConfigOption = None,
    once: Annotated[bool, typer.Option("--once", help="One full pass, then exit.")] = False,
) -> None:
    """Copy the upstream database into the store (for ever, or one pass with --once)."""
    settings = _settings(config, None, None)
    try:
        summary = asyncio.run(run_sync(settings, once, _progress if sys.stderr.isatty() else None))
    except SyncFailed as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if summary is not None:
        typer.echo(
            f"sync done: {summary.new} new, {summary.updated} updated, {summary.deleted} deleted,"
            f" {summary.skipped} skipped in {summary.seconds:.1f}s"
        )


@app.command()
def doctor(config: ConfigOption = None) -> None:
    """Check settings, store, upstream database, manager-api and Redis, in that order."""
    settings = _settings(config, None, None)
    results = asyncio.run(run_checks(settings))
    marks = {"pass": "ok  ", "warn": "WARN", "fail": "FAIL", "skip": "skip"}
    for result in results:
        typer.echo(
            f"[{marks[result.state]}] {result.name}"
            + (f": {result.detail}" if result.detail else "")
        )
    if any(result.state == "fail" for result in results):
        raise typer.Exit(1)


@app.command("export")
def export_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Archive to write (.jsonl.gz).")],
    config: ConfigOption = None,
) -> None:
    """Back up the whole store into one compressed archive."""
    counts = _with_store(config, lambda store: export_archive(store, out, _table_progress()))
    typer.echo(f"exported {sum(counts.values())} rows to {out}: " + _counts(counts))


@app.command("import")
def import_command(
    archive: Annotated[Path, typer.Argument(help="An archive made by `xiaozhi-server export`.")],
    config: ConfigOption = None,
) -> None:
    """Restore an archive into the store (idempotent: importing twice changes nothing)."""

    settings = _settings(config, None, None)

    async def restore(store: Store) -> dict[str, int]:
        await migrate.upgrade(store.engine)
        return await import_archive(store, archive, _table_progress(), data_policy(settings))

    counts = _with_store(config, restore)
    typer.echo(f"imported {sum(counts.values())} rows from {archive}: " + _counts(counts))


def _table_progress() -> Callable[[str, int], None] | None:
    if not sys.stderr.isatty():
        return None
    return lambda table, rows: print(f"\r  {table}: {rows}", end="", file=sys.stderr, flush=True)


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{table} {rows}" for table, rows in counts.items())


def _progress(summary: PassSummary) -> None:
    print(
        f"\r  {summary.new} new, {summary.updated} updated ...", end="", file=sys.stderr, flush=True
    )


@app.command()
def retention(
    config: ConfigOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be deleted; delete nothing.")
    ] = False,
) -> None:
    """Run one retention pass now (the rules under retention: in the settings)."""
    settings = _settings(config, None, None)
    if not settings.retention.configured:
        typer.echo(
            "retention is not configured (retention.messages_days, audio_days, agents,"
            " devices): nothing to delete"
        )
        return
    report = _with_store(config, lambda s: privacy.retention_now(s, settings, dry_run))
    typer.echo(privacy.describe_retention(report))


class ErasureKind(StrEnum):
    session = "session"
    device = "device"
    agent = "agent"


@app.command()
def erase(
    kind: Annotated[ErasureKind, typer.Argument(help="What to erase: session, device or agent.")],
    identifier: Annotated[
        str, typer.Argument(metavar="ID", help="Session id, MAC or upstream device id, agent id.")
    ],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    config: ConfigOption = None,
) -> None:
    """Erase one session's, device's or agent's whole history (asks first, with the counts)."""
    settings = _settings(config, None, None)
    found = _with_store(
        config, lambda s: privacy.find_for_erasure(s, settings, kind.value, identifier)
    )
    if found is None:
        typer.echo(f"error: no {kind.value} {identifier!r} in the store", err=True)
        raise typer.Exit(1)
    target, counts = found
    if not yes and not typer.confirm(privacy.question(target, counts)):
        typer.echo("nothing erased", err=True)
        raise typer.Exit(1)
    erased = _with_store(config, lambda s: privacy.erase_now(s, target))
    typer.echo(f"erased {privacy.amounts(erased)} of {target.describe()}")


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "head",
    config: ConfigOption = None,
) -> None:
    """Migrate the store up to REVISION (default: the newest)."""
    _with_store(config, lambda store: migrate.upgrade(store.engine, revision))
    typer.echo(f"store upgraded to {revision}")


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision; 'base' removes every table.")],
    config: ConfigOption = None,
) -> None:
    """Migrate the store down to REVISION."""
    _with_store(config, lambda store: migrate.downgrade(store.engine, revision))
    typer.echo(f"store downgraded to {revision}")


@db_app.command("current")
def db_current(config: ConfigOption = None) -> None:
    """Print the store's revision (and whether it is the newest)."""
    revision = _with_store(config, lambda store: migrate.current_revision(store.engine))
    head = migrate.head_revision()
    state = "head" if revision == head else f"behind head {head}"
    typer.echo(f"{revision or 'empty (no revision)'} ({state})")


@db_app.command("history")
def db_history() -> None:
    """List the migrations this version ships, newest first."""
    for line in migrate.history():
        typer.echo(line)


@config_app.command("show")
def config_show(config: ConfigOption = None) -> None:
    """Print the effective settings (file + environment) as YAML, every secret masked."""
    typer.echo(effective_yaml(_settings(config, None, None)), nl=False)


class RoleChoice(StrEnum):
    viewer = "viewer"
    admin = "admin"


NameArgument = Annotated[str, typer.Argument(metavar="NAME", help="The user's name.")]
PasswordOption = Annotated[
    str | None,
    typer.Option(
        "--password",
        help=f"At least {users.MIN_PASSWORD} characters; asked for (twice, hidden) if left out.",
        show_default=False,
    ),
]


@users_app.command("add")
def users_add(
    name: NameArgument,
    role: Annotated[RoleChoice, typer.Option("--role", help="viewer or admin.")],
    password: PasswordOption = None,
    config: ConfigOption = None,
) -> None:
    """Add a user with a role and a password."""
    secret = password if password is not None else _ask_password()
    _user_change(config, lambda s: users.add(s, name, role.value, secret, _cli_actor()))
    typer.echo(f"added {role.value} {name!r}")


@users_app.command("list")
def users_list(config: ConfigOption = None) -> None:
    """List every user with role and last change."""
    rows = _with_users(config, admins.list_users)
    if not rows:
        typer.echo("no users")
        return
    width = max(len(row["username"]) for row in rows)
    for row in rows:
        changed = row["updated_at"].strftime("%Y-%m-%d %H:%M UTC")
        typer.echo(f"{row['username']:<{width}}  {row['role']:<6}  changed {changed}")


@users_app.command("passwd")
def users_passwd(
    name: NameArgument, password: PasswordOption = None, config: ConfigOption = None
) -> None:
    """Set a user's password (their console sessions end)."""
    secret = password if password is not None else _ask_password()
    _user_change(config, lambda s: users.change_password(s, name, secret, _cli_actor()))
    typer.echo(f"password of {name!r} changed")


@users_app.command("role")
def users_role(
    name: NameArgument,
    role: Annotated[RoleChoice, typer.Argument(help="viewer or admin.")],
    config: ConfigOption = None,
) -> None:
    """Give a user another role (applies to their open sessions at once)."""
    _user_change(config, lambda s: users.change_role(s, name, role.value, _cli_actor()))
    typer.echo(f"{name!r} is now {role.value}")


@users_app.command("remove")
def users_remove(name: NameArgument, config: ConfigOption = None) -> None:
    """Remove a user and end their console sessions."""
    _user_change(config, lambda s: users.remove(s, name, _cli_actor()))
    typer.echo(f"removed {name!r}")


def _ask_password() -> str:
    secret: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return secret


def _cli_actor() -> users.Actor:
    """Who runs the command, as the operating system knows them."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "cli"
    return users.Actor(name, "cli", "local")


def _with_users(config: Path | None, action: Callable[[Store], Awaitable[T]]) -> T:
    """``action`` on a store at the newest schema (upgraded first unless auto_migrate is off)."""
    settings = _settings(config, None, None)

    async def run(store: Store) -> T:
        if settings.storage.auto_migrate:
            await migrate.upgrade(store.engine)
        elif await migrate.current_revision(store.engine) != migrate.head_revision():
            raise CommandError(
                "the store is not at the newest schema: run 'xiaozhi-server db upgrade'"
            )
        return await action(store)

    return _with_store(config, run)


def _user_change(config: Path | None, change: Callable[[Store], Awaitable[object]]) -> None:
    """Run a user change; a refusal is one line on stderr and exit code 1."""

    async def refused_plainly(store: Store) -> None:
        try:
            await change(store)
        except (users.UserError, users.LastAdmin) as exc:
            raise CommandError(str(exc)) from None

    _with_users(config, refused_plainly)


def _settings(config: Path | None, host: str | None, port: int | None) -> Settings:
    try:
        settings, warnings = read_settings(config)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    for warning in warnings:
        typer.echo(f"warning: {warning}", err=True)
    if host is not None:
        settings.server.host = host
    if port is not None:
        settings.server.port = port
    return settings


def _with_store(config: Path | None, action: Callable[[Store], Awaitable[T]]) -> T:
    settings = _settings(config, None, None)

    async def run() -> T:
        store = Store(settings.storage.url)
        try:
            return await action(store)
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except CommandError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    except Exception as exc:  # a CLI user gets the cause, not a traceback
        typer.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(1) from None


def _serve(
    settings: Settings, background: tuple[BackgroundTask, ...], demo_mode: bool = False
) -> None:
    configure_logging(settings.server.log_level, settings.server.log_format)
    url = f"http://{settings.server.host}:{settings.server.port}/"
    workers = settings.server.workers
    shown = f" with {workers} workers" if workers > 1 else ""
    typer.echo(f"xiaozhi-server {'demo ' if demo_mode else ''}starting on {url}{shown}", err=True)
    if workers > 1:
        if not serve_workers(settings, background):
            raise typer.Exit(1)
        return
    server = uvicorn.Server(server_config(create_app(settings, background), settings))
    server.run()
    if not server.started:
        raise typer.Exit(1)


def _demo_task(speed: float) -> BackgroundTask:
    # A partial of a module-level function: a worker process can receive it (pickled).
    return functools.partial(_demo, speed=speed)


async def _demo(services: Services, speed: float) -> None:
    await seed_history(services.ingestor)
    await run_live(services.ingestor, speed=speed)
