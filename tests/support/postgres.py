"""A real PostgreSQL for tests: a throwaway cluster on 127.0.0.1, password login, always stopped.

``initdb`` and ``postgres`` refuse to run as root. When the tests run as root (CI does),
both run as the ``postgres`` system user, in a directory made for it (pytest's temporary
directories are private to root) and removed afterwards.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.servers import free_port

SYSTEM_USER = "postgres"
ADMIN = "xiaozhi_admin"


def postgres_binary(name: str) -> str:
    """The path of PostgreSQL's ``name`` (Debian keeps the server tools off PATH); skip the
    test, or fail it under CI=true, if PostgreSQL is not installed."""
    found = shutil.which(name)
    if found:
        return found
    # Debian: /usr/lib/postgresql/<major>/bin; the newest major wins.
    versions = sorted(
        glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
        key=lambda path: int(Path(path).parent.parent.name),
    )
    if versions:
        return versions[-1]
    message = f"{name} is not installed (apt-get install postgresql)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


@dataclass(frozen=True)
class PostgreSQL:
    """A running PostgreSQL cluster: an admin, and a plain login role that owns test databases."""

    port: int
    user: str
    password: str
    admin_password: str
    client: str

    def url(self, database: str, driver: str = "postgresql+asyncpg") -> str:
        """A SQLAlchemy URL for ``database``, logging in as the plain role."""
        return f"{driver}://{self.user}:{self.password}@127.0.0.1:{self.port}/{database}"

    def sql(self, statement: str, database: str = "postgres") -> str:
        """Run ``statement`` as the admin over TCP; return its unaligned, tuples-only output."""
        result = subprocess.run(
            [
                self.client,
                "-X",
                "-q",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                ADMIN,
                "-d",
                database,
                "-c",
                statement,
            ],
            env={**os.environ, "PGPASSWORD": self.admin_password, "PGCONNECT_TIMEOUT": "10"},
            check=True,
            capture_output=True,
            text=True,
        )
        return result.stdout

    def create_database(self, prefix: str = "t") -> str:
        """A fresh, empty UTF-8 database owned by the plain role; its name."""
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        self.sql(f"CREATE DATABASE {name} OWNER {self.user} ENCODING 'UTF8' TEMPLATE template0")
        return name

    def drop_database(self, name: str) -> None:
        """Drop ``name``, ending any connection a test left open on it."""
        self.sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextmanager
def _private_dir(base: Path) -> Iterator[Path]:
    """A directory the server's user owns: ``base`` itself, or, as root, one made for
    ``postgres`` (removed afterwards)."""
    if os.geteuid() != 0:
        yield base
        return
    made = Path(tempfile.mkdtemp(prefix="xiaozhi-pg-"))
    try:
        shutil.chown(made, SYSTEM_USER, SYSTEM_USER)
        yield made
    finally:
        shutil.rmtree(made, ignore_errors=True)


def _as_server_user() -> dict[str, Any]:
    """Popen/run arguments that drop root for the server's own user (nothing when not root)."""
    if os.geteuid() != 0:
        return {}
    return {"user": SYSTEM_USER, "group": SYSTEM_USER, "extra_groups": []}


def _init_cluster(home: Path, admin_password: str) -> Path:
    """initdb a UTF-8 cluster whose every login, local or TCP, needs a SCRAM password."""
    datadir, pwfile = home / "data", home / "admin.pw"
    pwfile.write_text(admin_password + "\n")
    if os.geteuid() == 0:
        shutil.chown(pwfile, SYSTEM_USER, SYSTEM_USER)
    pwfile.chmod(0o600)
    subprocess.run(
        [
            postgres_binary("initdb"),
            f"--pgdata={datadir}",
            f"--username={ADMIN}",
            f"--pwfile={pwfile}",
            "--auth-host=scram-sha-256",
            "--auth-local=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
            "--no-instructions",
        ],
        check=True,
        capture_output=True,
        cwd=home,
        **_as_server_user(),
    )
    pwfile.unlink()
    return datadir


def _wait_until_ready(port: int, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    """Block until the server accepts queries (listening is not enough: it may be starting)."""
    ready = postgres_binary("pg_isready")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"postgres exited with {process.returncode} before it was ready")
        probe = [ready, "-q", "-h", "127.0.0.1", "-p", str(port), "-U", ADMIN, "-d", "postgres"]
        if subprocess.run(probe, check=False).returncode == 0:
            return
        time.sleep(0.1)
    raise RuntimeError(f"postgres was not ready on port {port} within {timeout}s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Fast shutdown (SIGINT ends open sessions, unlike SIGTERM); immediate if it hangs."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGQUIT)
        process.wait()


@contextmanager
def running_postgres(base: Path) -> Iterator[PostgreSQL]:
    """initdb a fresh cluster, start it on a free port on 127.0.0.1 with password logins,
    and a plain role that may own databases; stop it and remove its files on exit."""
    admin_password = secrets.token_urlsafe(16)
    with _private_dir(base) as home:
        datadir = _init_cluster(home, admin_password)
        port = free_port()
        command = [
            postgres_binary("postgres"),
            "-D",
            str(datadir),
            "-p",
            str(port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={home}",
            "-c",
            "max_connections=200",
            # as on a server in China: nothing may depend on the server's zone being UTC
            "-c",
            "timezone=Asia/Shanghai",
            # a throwaway cluster: durability buys nothing, speed does
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ]
        with (base / "postgres.log").open("wb") as log:
            process = subprocess.Popen(
                command, stdout=log, stderr=log, cwd=home, **_as_server_user()
            )
        try:
            _wait_until_ready(port, process)
            client = postgres_binary("psql")
            server = PostgreSQL(
                port, "xiaozhi_test", secrets.token_urlsafe(12), admin_password, client
            )
            server.sql(f"CREATE ROLE {server.user} LOGIN PASSWORD '{server.password}'")
            yield server
        finally:
            _stop(process)
