"""Where the deployment files are, and what every one of them must agree on."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import REGISTRY

import xiaozhi_server.ops.metrics  # noqa: F401  (registers every metric)

ROOT = Path(__file__).parents[3]
DEPLOY = ROOT / "deploy"
# Both documented upstream installs run compose from a folder named xiaozhi-server.
UPSTREAM_NETWORK = "xiaozhi-server_default"
IP_ADDRESS = re.compile(r"\b(?!127\.0\.0\.1\b|0\.0\.0\.0\b)\d{1,3}(?:\.\d{1,3}){3}\b")
METRIC = re.compile(r"\b(?:xiaozhi|process)_[a-z_]+\b")


def load_yaml(name: str) -> dict[str, Any]:
    """A YAML file under deploy/, parsed."""
    data: dict[str, Any] = yaml.safe_load((DEPLOY / name).read_text())
    return data


SAMPLE_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}


def exported_metric_names() -> set[str]:
    """Every metric name the server registers, with the names of its samples (``_total``,
    ``_bucket``…), whether or not a labelled metric has a sample yet."""
    names: set[str] = set()
    for metric in REGISTRY.collect():
        names.add(metric.name)
        names.update(sample.name for sample in metric.samples)
        names.update(metric.name + suffix for suffix in SAMPLE_SUFFIXES.get(metric.type, ()))
    return names


def dashboard() -> dict[str, Any]:
    """The Grafana dashboard, parsed."""
    data: dict[str, Any] = json.loads((DEPLOY / "grafana" / "xiaozhi-server.json").read_text())
    return data


def dashboard_queries() -> list[str]:
    """Every PromQL expression of the dashboard."""
    return [t["expr"] for p in dashboard()["panels"] for t in p.get("targets", [])]


def dashboard_metrics() -> set[str]:
    """Every metric (sample) name the dashboard's queries read from the hubs."""
    return {name for query in dashboard_queries() for name in METRIC.findall(query)}
