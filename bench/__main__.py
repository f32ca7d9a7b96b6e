"""``python -m bench`` (``make bench``): run every benchmark, one JSON object per line."""

from bench import ingest_throughput

ingest_throughput.main()
