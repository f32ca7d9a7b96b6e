"""``python -m bench`` (``make bench``): run every benchmark, one JSON object per line."""

from bench import (
    binlog_freshness,
    delivery_latency,
    ingest_throughput,
    password_storm,
    read_api,
    report_soak,
    report_throughput,
    retention_purge,
    sync_throughput,
)

ingest_throughput.main()
report_throughput.main()
password_storm.main()
delivery_latency.main()
read_api.main()
sync_throughput.main()
binlog_freshness.main()
retention_purge.main()
report_soak.main([])  # last: five minutes
