"""Prometheus metrics, scraped at ``/metrics``: names say what is counted, labels how it ended."""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import Counter, Gauge, Histogram

REPORTS = Counter(
    "xiaozhi_report_requests",
    "Chat-history reports received, by outcome "
    "(stored, unauthorized, invalid, too_large, store_error).",
    ["outcome"],
)
TAP_FORWARDS = Counter(
    "xiaozhi_tap_forwards",
    "Requests forwarded to manager-api, by outcome (ok, upstream_error, unreachable, timeout).",
    ["outcome"],
)
UPSTREAM_CALLS = Counter(
    "xiaozhi_upstream_calls",
    "Calls to the upstream (manager-api or its database), by target and outcome "
    "(success, failure).",
    ["target", "outcome"],
)
WEBSOCKET_CONNECTIONS = Gauge(
    "xiaozhi_websocket_connections", "WebSocket feed clients connected now."
)
WEBSOCKET_DISCONNECTS = Counter(
    "xiaozhi_websocket_disconnects", "WebSocket feed clients gone, by reason.", ["reason"]
)
EVENTS_PUBLISHED = Counter("xiaozhi_events_published", "Events published on this instance's bus.")
EVENTS_DROPPED = Counter(
    "xiaozhi_events_dropped", "Events a subscriber could not take (it was disconnected)."
)
FEED_FANOUT_CPU = Counter(
    "xiaozhi_feed_fanout_cpu_seconds",
    "CPU time this process spent handing events to WebSocket feed clients.",
)
INGEST_BATCHES = Histogram(
    "xiaozhi_ingest_batch_records",
    "Records per ingest transaction (group commit makes these larger under load).",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000),
)
SYNC_LAST_SUCCESS = Gauge(
    "xiaozhi_sync_last_success_timestamp_seconds",
    "When a source last completed a pass (Unix time).",
    ["source"],
)
SYNC_LAG = Gauge(
    "xiaozhi_sync_lag_seconds",
    "Seconds the store may be behind the upstream: since the start of the last completed poll "
    "pass, or the last binlog transaction or heartbeat applied (computed at scrape time).",
    ["source"],
)
SYNC_ROWS = Counter(
    "xiaozhi_sync_rows", "Rows a source wrote, by kind (new, updated, deleted).", ["source", "kind"]
)
SYNC_LEADER = Gauge(
    "xiaozhi_sync_leader",
    "1 while this instance runs the upstream sync, 0 while it stands by (instances sharing a "
    "store elect one).",
)
SYNC_FAILURES = Counter("xiaozhi_sync_failures", "Sync passes that failed.", ["source"])
HTTP_LATENCY = Histogram(
    "xiaozhi_http_request_duration_seconds",
    "HTTP request latency by route template, method and status class.",
    ["route", "method", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

RETENTION_PURGED = Counter(
    "xiaozhi_retention_purged",
    "Rows retention deleted, by kind (messages, audio: clips deleted, sessions: left empty).",
    ["kind"],
)
RETENTION_LAST_PASS = Gauge(
    "xiaozhi_retention_last_pass_timestamp_seconds", "When a retention pass last completed."
)
ERASED = Counter(
    "xiaozhi_erased",
    "Rows erased on request, by kind (messages, audio, sessions, devices).",
    ["kind"],
)
WITHHELD = Counter(
    "xiaozhi_privacy_withheld",
    "Records the write path did not store, by kind (message, audio, title, device) and reason "
    "(erased, retention, opt_out).",
    ["kind", "reason"],
)


def measure_lag(source: str, current_as_of: Callable[[], float]) -> None:
    """Compute ``source``'s lag at every scrape from ``current_as_of()`` (the Unix time up
    to which the store holds the upstream's changes), so that it grows while nothing
    completes, whatever the reason: a stalled upstream produces no event to update it."""
    SYNC_LAG.labels(source).set_function(lambda: max(0.0, time.time() - current_as_of()))
