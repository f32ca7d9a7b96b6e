"""Real servers for tests: started on 127.0.0.1 with a throwaway data dir, always stopped."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def require_binary(name: str) -> str:
    """The path of ``name``; skip the test, or fail it under CI=true, if it is missing."""
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin")
    if path:
        return path
    message = f"{name} is not installed (apt-get install mariadb-server redis-server)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Block until something accepts connections on ``port``; fail if ``process`` dies."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listened on port {port} within {timeout}s")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate ``process`` and wait for it; kill it if it will not go."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass(frozen=True)
class MariaDB:
    """A running MariaDB server and a user that may create databases."""

    port: int
    user: str
    password: str
    socket_path: Path
    client: str
    pid: int

    def url(self, database: str, driver: str = "mysql+asyncmy") -> str:
        """A SQLAlchemy URL for ``database`` on this server."""
        return f"{driver}://{self.user}:{self.password}@127.0.0.1:{self.port}/{database}"

    def sql(self, statement: str) -> str:
        """Run ``statement`` as root over the socket; return its tab-separated output."""
        result = subprocess.run(
            [
                self.client,
                "--no-defaults",
                "-S",
                str(self.socket_path),
                "-uroot",
                "-N",
                "-e",
                statement,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        return result.stdout


@contextmanager
def user_who_may_only_read(server: MariaDB, database: str) -> Iterator[tuple[str, str]]:
    """A user with SELECT on ``database`` and nothing else: (name, password); dropped after."""
    name, password = "reader", secrets.token_urlsafe(12)
    server.sql(
        f"CREATE USER '{name}'@'127.0.0.1' IDENTIFIED BY '{password}';"
        f"GRANT SELECT ON {database}.* TO '{name}'@'127.0.0.1'"
    )
    try:
        yield name, password
    finally:
        server.sql(f"DROP USER '{name}'@'127.0.0.1'")


@contextmanager
def running_mariadb(base: Path, *options: str) -> Iterator[MariaDB]:
    """Start mariadbd on a free port with a fresh data dir (and any extra ``options``, such
    as ``--log-bin``); stop it on exit."""
    install = require_binary("mariadb-install-db")
    daemon = require_binary("mariadbd")
    client = require_binary("mariadb")
    datadir, sock, port = base / "data", base / "mariadb.sock", free_port()
    as_root = ["--user=root"] if os.geteuid() == 0 else []
    subprocess.run(
        [
            install,
            "--no-defaults",
            f"--datadir={datadir}",
            "--skip-test-db",
            "--auth-root-authentication-method=socket",
            *as_root,
        ],
        check=True,
        capture_output=True,
    )
    command = [
        daemon,
        "--no-defaults",
        f"--datadir={datadir}",
        f"--socket={sock}",
        f"--port={port}",
        "--bind-address=127.0.0.1",
        "--skip-name-resolve",
        "--innodb-buffer-pool-size=64M",
        "--innodb-flush-log-at-trx-commit=2",
        "--character-set-server=utf8mb4",
        f"--pid-file={base / 'mariadb.pid'}",
        f"--log-error={base / 'error.log'}",
        *as_root,
        *options,
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, process)
        server = MariaDB(port, "xiaozhi_test", secrets.token_urlsafe(12), sock, client, process.pid)
        server.sql(
            f"CREATE USER '{server.user}'@'127.0.0.1' IDENTIFIED BY '{server.password}';"
            f"GRANT ALL PRIVILEGES ON *.* TO '{server.user}'@'127.0.0.1' WITH GRANT OPTION;"
        )
        yield server
    finally:
        stop(process)


@contextmanager
def frozen(server: MariaDB) -> Iterator[None]:
    """``server`` stopped by SIGSTOP for the block, as a hung host looks: its connections
    stay open and accept bytes, nothing answers. Always resumed (SIGCONT) after."""
    os.kill(server.pid, signal.SIGSTOP)
    try:
        _wait_until_stopped(server.pid)
        yield
    finally:
        os.kill(server.pid, signal.SIGCONT)


def _wait_until_stopped(pid: int, timeout: float = 30.0) -> None:
    """Block until every thread of ``pid`` is stopped. kill() only queues SIGSTOP and wakes
    one thread, which then stops the others: until it has run, the rest of a busy server
    still answers queries sent after kill() returned."""
    deadline = time.monotonic() + timeout
    while not all(state in "TZX" for state in _thread_states(pid)):
        if time.monotonic() >= deadline:
            raise RuntimeError(f"process {pid} did not stop within {timeout}s of SIGSTOP")
        time.sleep(0.001)


def _thread_states(pid: int) -> list[str]:
    """The state letter of each thread of ``pid`` (from /proc/<pid>/task/*/stat)."""
    states = []
    for stat in Path(f"/proc/{pid}/task").glob("*/stat"):
        try:
            text = stat.read_text()
        except FileNotFoundError:  # a thread that just ended
            continue
        states.append(text.rsplit(")", 1)[1].split()[0])  # the name may hold ") "
    return states


class RedisServer:
    """A redis-server on a port of its own, nothing persisted, that a test may stop and start
    again on the same port (its clients see a restart)."""

    def __init__(self, base: Path) -> None:
        self.port = free_port()
        self._base = base
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The URL clients connect to."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start it (again) and wait until it listens."""
        listen = ["--port", str(self.port), "--bind", "127.0.0.1", "--protected-mode", "yes"]
        nothing_kept = ["--save", "", "--appendonly", "no", "--dir", str(self._base)]
        self._process = subprocess.Popen(
            [require_binary("redis-server"), *listen, *nothing_kept],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, self._process)

    def stop(self) -> None:
        """Stop it; every client connection ends."""
        if self._process is not None:
            stop(self._process)
            self._process = None


@contextmanager
def running_redis(base: Path) -> Iterator[str]:
    """Start redis-server on a free port, nothing persisted; yield its URL; stop it on exit."""
    server = RedisServer(base)
    try:
        server.start()
        yield server.url
    finally:
        server.stop()
