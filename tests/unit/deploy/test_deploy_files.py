"""The deployment files, checked by parsing them (no Docker engine runs here)."""

from __future__ import annotations

import re
from typing import Any

import yaml

from tests.unit.deploy.files import (
    DEPLOY,
    IP_ADDRESS,
    ROOT,
    UPSTREAM_NETWORK,
    exported_metric_names,
    load_yaml,
)
from xiaozhi_server.ops.doctor import COMPOSE_SNIPPET


def compose() -> dict[str, Any]:
    return load_yaml("docker-compose.yml")


def test_the_service_joins_the_upstream_network_as_external() -> None:
    data = compose()
    assert "upstream" in data["services"]["xiaozhi-server"]["networks"]
    network = data["networks"]["upstream"]
    assert network["external"] is True
    assert network["name"] == "${XIAOZHI_UPSTREAM_NETWORK:-" + UPSTREAM_NETWORK + "}"


def test_doctor_suggests_the_network_the_compose_file_joins() -> None:
    snippet = yaml.safe_load(COMPOSE_SNIPPET)
    assert snippet["networks"]["xiaozhi-upstream"]["name"] == UPSTREAM_NETWORK


def test_no_file_names_the_network_after_the_upstream_repository() -> None:
    # The network is named for the folder compose runs in, never for the repository.
    files = [
        ROOT / "README.md",
        *(ROOT / "docs").glob("*.md"),
        *(p for p in DEPLOY.rglob("*") if p.is_file()),
    ]
    files += (ROOT / "src" / "xiaozhi_server").rglob("*.py")
    for path in files:
        assert "xiaozhi-esp32-server_default" not in path.read_text(encoding="utf-8"), path


def test_the_upstream_is_reached_by_container_name_never_by_ip() -> None:
    environment = compose()["services"]["xiaozhi-server"]["environment"]
    assert environment["XIAOZHI_ESP32_SERVER__DB__HOST"] == "xiaozhi-esp32-server-db"
    assert environment["XIAOZHI_ESP32_SERVER__MANAGER_API_URL"].startswith(
        "http://xiaozhi-esp32-server-web:8002"
    )
    for name in ("docker-compose.yml", "Dockerfile"):
        assert not IP_ADDRESS.search((DEPLOY / name).read_text()), name


def test_secrets_come_from_the_environment_not_the_file() -> None:
    environment = compose()["services"]["xiaozhi-server"]["environment"]
    assert environment["XIAOZHI_ESP32_SERVER__DB__PASSWORD"].startswith("${UPSTREAM_DB_PASSWORD:?")
    assert environment["XIAOZHI_AUTH__REPORT_SECRET"].startswith("${XIAOZHI_REPORT_SECRET:?")


def test_both_healthchecks_probe_healthz() -> None:
    assert "/healthz" in " ".join(compose()["services"]["xiaozhi-server"]["healthcheck"]["test"])
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "HEALTHCHECK" in dockerfile
    assert "/healthz" in dockerfile


def test_the_image_runs_as_a_non_root_user_on_a_slim_base() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert dockerfile.splitlines()[2].startswith("FROM python:3.11-slim")
    assert re.search(r"^USER xiaozhi$", dockerfile, re.MULTILINE)


def test_redis_and_mariadb_are_optional_profiles() -> None:
    services = compose()["services"]
    assert services["redis"]["profiles"] == ["redis"]
    assert services["mariadb"]["profiles"] == ["mariadb"]


def test_every_alert_parses_and_uses_metrics_the_server_exports() -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())["groups"][0]["rules"]
    known = exported_metric_names()
    alerts = {rule["alert"] for rule in rules}
    assert {
        "XiaozhiSyncStale",
        "XiaozhiSyncFailing",
        "XiaozhiUpstreamSuccessRateLow",
        "XiaozhiNoWebSocketSubscribers",
        "XiaozhiReportErrorsRising",
    } <= alerts
    for rule in rules:
        used = set(re.findall(r"xiaozhi_[a-z_]+", rule["expr"]))
        assert used, rule["alert"]
        assert used <= known, f"{rule['alert']} uses unknown metrics {used - known}"
        assert rule["expr"].count("(") == rule["expr"].count(")")
