"""The several-hubs deployment (deploy/docker-compose.scale.yml with its proxy, Prometheus
and Grafana files), checked by parsing them: no Docker engine runs here."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from pydantic import BaseModel

from tests.unit.deploy.files import (
    DEPLOY,
    IP_ADDRESS,
    METRIC,
    UPSTREAM_NETWORK,
    dashboard,
    dashboard_metrics,
    dashboard_queries,
    exported_metric_names,
    load_yaml,
)
from xiaozhi_server.config import Settings
from xiaozhi_server.realtime.feed import router as feed_router

COMPOSE = "docker-compose.scale.yml"
NGINX = (DEPLOY / "nginx" / "xiaozhi-hubs.conf").read_text()
INTERPOLATION = re.compile(r"\$\{(\w+)(?::([?-])([^}]*))?\}")


def services() -> dict[str, Any]:
    found: dict[str, Any] = load_yaml(COMPOSE)["services"]
    return found


def hub_environment() -> dict[str, str]:
    environment: dict[str, str] = services()["hub"]["environment"]
    return environment


def interpolated(value: str) -> str:
    """``value`` as compose would fill it in: defaults, and a sample for required ones."""
    return INTERPOLATION.sub(lambda m: m.group(3) if m.group(2) == "-" else "sample-secret", value)


def setting_exists(name: str) -> bool:
    """True if ``XIAOZHI_A__B`` names a field of the settings (sections, then keys)."""
    model: type[BaseModel] = Settings
    parts = name.removeprefix("XIAOZHI_").lower().split("__")
    for n, part in enumerate(parts):
        field = model.model_fields.get(part)
        if field is None:
            return False
        annotation = field.annotation
        if n < len(parts) - 1:
            if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
                return False
            model = annotation
    return True


def test_the_proxy_is_the_one_address_and_the_hubs_publish_no_port() -> None:
    found = services()
    assert found["proxy"]["ports"] == ["${XIAOZHI_PORT:-8004}:8004"]
    assert "ports" not in found["hub"]
    assert found["hub"]["deploy"]["replicas"] == "${XIAOZHI_HUBS:-3}"


def test_the_proxy_passes_every_request_to_the_hub_service_on_its_port() -> None:
    assert re.search(r"^\s*listen 8004;", NGINX, re.MULTILINE)
    assert re.search(r"^\s*server hub:8004 resolve;", NGINX, re.MULTILINE)
    assert "8004" in services()["hub"]["expose"]
    assert Settings().server.port == 8004
    mounted = services()["proxy"]["volumes"][0].split(":")
    assert (DEPLOY / mounted[0]).resolve() == DEPLOY / "nginx" / "xiaozhi-hubs.conf"
    assert mounted[1] == "/etc/nginx/conf.d/default.conf"


def test_the_proxy_passes_websocket_upgrades_through_to_the_feed() -> None:
    feed_paths = {route.path for route in feed_router.routes}  # type: ignore[attr-defined]
    assert feed_paths == {"/ws/admin"}
    location = NGINX.split("location /ws/ {", 1)[1].split("}", 1)[0]
    assert "proxy_http_version 1.1;" in location
    assert "proxy_set_header Upgrade $http_upgrade;" in location
    assert "proxy_set_header Connection $connection_upgrade;" in location
    assert re.search(r"map \$http_upgrade \$connection_upgrade \{\s*default upgrade;", NGINX)
    # longer than the hub's pings are apart, or a quiet feed would be cut
    timeout = re.search(r"proxy_read_timeout (\d+)h;", location)
    assert timeout is not None
    assert int(timeout.group(1)) * 3600 > Settings().notification.heartbeat_seconds


def test_the_proxy_tells_the_hubs_the_client_and_the_host() -> None:
    for header in ("X-Forwarded-For", "X-Forwarded-Host", "Host"):
        assert NGINX.count(f"proxy_set_header {header} ") == 2, header
    assert hub_environment()["FORWARDED_ALLOW_IPS"] == "*"


def test_every_hub_setting_is_a_real_setting_and_the_whole_set_is_valid(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    environment = {name: interpolated(str(value)) for name, value in hub_environment().items()}
    settings_names = [name for name in environment if name.startswith("XIAOZHI_")]
    assert [name for name in settings_names if not setting_exists(name)] == []
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert settings.sync_service.enabled
    assert settings.notification.redis_url == "redis://redis:6379/0"


def test_the_hubs_share_the_postgres_store_and_the_redis_of_the_file() -> None:
    found = services()
    store = urlsplit(interpolated(hub_environment()["XIAOZHI_STORAGE__URL"]))
    assert store.scheme == "postgresql+asyncpg"
    assert (store.hostname, store.port) == ("postgres", 5432)
    postgres = found["postgres"]["environment"]
    assert store.username == postgres["POSTGRES_USER"]
    assert store.path == "/" + postgres["POSTGRES_DB"]
    assert hub_environment()["XIAOZHI_STORAGE__URL"].count("${HUB_DB_PASSWORD:?") == 1
    assert postgres["POSTGRES_PASSWORD"].startswith("${HUB_DB_PASSWORD:?")
    redis = urlsplit(hub_environment()["XIAOZHI_NOTIFICATION__REDIS_URL"])
    assert redis.hostname in found
    assert set(found["hub"]["depends_on"]) == {"postgres", "redis"}


def test_the_image_has_the_postgresql_driver() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "ARG EXTRAS=postgres" in dockerfile
    assert '".[${EXTRAS}]"' in dockerfile


def test_the_hubs_and_the_proxy_join_the_upstream_network_the_core_reaches_them_on() -> None:
    data = load_yaml(COMPOSE)
    assert data["networks"]["upstream"] == {
        "external": True,
        "name": "${XIAOZHI_UPSTREAM_NETWORK:-" + UPSTREAM_NETWORK + "}",
    }
    assert "upstream" in data["services"]["hub"]["networks"]
    # the core's manager-api.url: http://xiaozhi-server:8004/xiaozhi
    assert data["services"]["proxy"]["networks"]["upstream"]["aliases"] == ["xiaozhi-server"]
    for name in ("postgres", "redis"):
        assert data["services"][name]["networks"] == ["default"]  # not the upstream's


def test_the_upstream_is_reached_by_name_and_no_file_holds_an_address_or_a_secret() -> None:
    environment = hub_environment()
    assert environment["XIAOZHI_ESP32_SERVER__DB__HOST"] == "xiaozhi-esp32-server-db"
    for name in ("XIAOZHI_ESP32_SERVER__DB__PASSWORD", "XIAOZHI_AUTH__REPORT_SECRET"):
        assert environment[name].startswith("${"), name
    assert environment["XIAOZHI_AUTH__ADMIN_PASSWORD"].startswith("${XIAOZHI_ADMIN_PASSWORD:?")
    # Docker's own DNS answers at 127.0.0.11 inside every container: the one address.
    proxy = NGINX.replace("resolver 127.0.0.11 ", "resolver ")
    texts = {
        "proxy": proxy,
        **{n: (DEPLOY / n).read_text() for n in (COMPOSE, "prometheus/scrape.yml")},
    }
    for name, text in texts.items():
        assert not IP_ADDRESS.search(text), name


def test_prometheus_scrapes_every_hub_on_its_own_with_the_shipped_alerts() -> None:
    config = load_yaml("prometheus/scrape.yml")
    (job,) = config["scrape_configs"]
    assert job["job_name"] == "xiaozhi-server"
    assert job["dns_sd_configs"] == [
        {"names": ["hub"], "type": "A", "port": 8004, "refresh_interval": "15s"}
    ]
    mounts = services()["prometheus"]["volumes"]
    assert "./prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro" in mounts
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]


def test_the_dashboard_reads_the_provisioned_prometheus() -> None:
    datasource = load_yaml("grafana/provisioning/datasources/prometheus.yml")["datasources"][0]
    panels = [p for p in dashboard()["panels"] if p["type"] != "row"]
    assert panels
    for panel in panels:
        assert panel["datasource"] == {"type": "prometheus", "uid": datasource["uid"]}
        assert panel["targets"], panel["title"]
    assert datasource["url"] == "http://prometheus:9090"


def test_every_dashboard_query_uses_metrics_the_server_registers() -> None:
    known = exported_metric_names()
    for query in dashboard_queries():
        used = set(METRIC.findall(query))
        assert used or "up{" in query, query
        assert used <= known, f"unknown metrics {used - known} in {query}"
        assert query.count("(") == query.count(")"), query


def test_the_dashboard_watches_what_scaling_out_depends_on() -> None:
    assert {
        "xiaozhi_sync_leader",
        "xiaozhi_sync_lag_seconds",
        "xiaozhi_websocket_connections",
        "xiaozhi_events_dropped_total",
        "xiaozhi_http_request_duration_seconds_bucket",
        "xiaozhi_upstream_calls_total",
    } <= dashboard_metrics()
