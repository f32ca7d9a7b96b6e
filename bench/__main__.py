"""``python -m bench`` (``make bench``): run every benchmark, one JSON object per line."""

from bench import delivery_latency, ingest_throughput, report_throughput

ingest_throughput.main()
report_throughput.main()
delivery_latency.main()
