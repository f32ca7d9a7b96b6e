"""Several ``xiaozhi-server serve`` processes on one store, as behind a load balancer: each a
real process on a port of its own, its output in a log file, always stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.core_client import SECRET
from tests.support.servers import free_port, stop, wait_for_port

TOKEN = "test-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Instance:
    """One ``serve`` process."""

    name: str
    process: subprocess.Popen[bytes]
    base_url: str
    log: Path

    def metric(self, name: str) -> float | None:
        """The value of the unlabelled metric ``name`` on this instance's ``/metrics``."""
        text = httpx.get(f"{self.base_url}/metrics", timeout=10).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and not sample.labels:
                    return float(sample.value)
        return None

    def kill(self) -> None:
        """SIGKILL: no shutdown, no cleanup, as a crash or the OOM killer ends it."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    @property
    def alive(self) -> bool:
        """True while its process runs."""
        return self.process.poll() is None


def instance_environment(store_url: str, redis_url: str, **settings: str) -> dict[str, str]:
    """This process's environment without ``XIAOZHI_`` overrides, plus a store, Redis, the
    report secret, the API token and any other ``XIAOZHI_…`` ``settings``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("XIAOZHI_")}
    return clean | {
        "XIAOZHI_STORAGE__URL": store_url,
        "XIAOZHI_NOTIFICATION__REDIS_URL": redis_url,
        "XIAOZHI_AUTH__REPORT_SECRET": SECRET,
        "XIAOZHI_AUTH__API_TOKENS": f'["{TOKEN}"]',
        "XIAOZHI_AUTH__ADMIN_PASSWORD": "pw",
        **settings,
    }


def start_instance(name: str, env: dict[str, str], folder: Path) -> Instance:
    """Start ``xiaozhi-server serve`` on a free port (the caller stops it)."""
    port = free_port()
    log = folder / f"{name}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "xiaozhi_server", "serve", "--port", str(port)],
            env=env,
            cwd=folder,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    return Instance(name, process, f"http://127.0.0.1:{port}", log)


@contextmanager
def running_instances(count: int, env: dict[str, str], folder: Path) -> Iterator[list[Instance]]:
    """``count`` serve processes started together on the same settings, each ready (its
    store migrated, its Redis subscription up) before the block begins; all stopped after."""
    with ExitStack() as stack:
        instances = []
        for n in range(count):
            instance = start_instance(f"hub-{n}", env, folder)
            stack.callback(stop, instance.process)
            instances.append(instance)
        for instance in instances:
            wait_for_port(int(instance.base_url.rsplit(":", 1)[1]), instance.process, 90)
            wait_until_ready(instance)
        yield instances


def wait_until_ready(instance: Instance, timeout: float = 60.0) -> None:
    """Block until ``/readyz`` says every component is ready."""
    deadline = time.monotonic() + timeout
    body: object = None
    while time.monotonic() < deadline:
        answer = httpx.get(f"{instance.base_url}/readyz", headers=ADMIN, timeout=10)
        body = answer.json()
        components = answer.json()["components"]
        if components["store"]["state"] == "ready" and components["events"]["state"] == "ready":
            return
        time.sleep(0.1)
    raise AssertionError(f"{instance.name} never became ready: {body}")


def log_of(instances: list[Instance]) -> str:
    """The end of every instance's output, for an assertion's message."""
    tails = (f"--- {i.name}\n{i.log.read_text(errors='replace')[-4000:]}" for i in instances)
    return "\n".join(tails)
