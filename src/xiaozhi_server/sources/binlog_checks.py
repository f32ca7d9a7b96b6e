"""Can this upstream be followed by its binlog? One answer for ``doctor`` and the sync."""

from __future__ import annotations

import re

from xiaozhi_server.sources.upstream_db import UpstreamDatabase
from xiaozhi_server.sources.upstream_errors import UpstreamProblem

# MariaDB 10.5+ shows REPLICATION CLIENT as BINLOG MONITOR; SUPER covers both on older
# servers. (Privileges held through roles are not seen here.)
_MAY_REPLICATE = re.compile(r"REPLICATION (SLAVE|REPLICA)(?! ADMIN)")
_MAY_WATCH = re.compile(r"REPLICATION CLIENT|BINLOG MONITOR|\bSUPER\b")
_COMPRESSED = ("binlog_transaction_compression", "log_bin_compress")


class BinlogUnavailable(UpstreamProblem):
    """The binlog cannot be followed; ``problem`` says why and ``fix`` what to change."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.problem} ({self.fix})"


async def check_binlog(upstream: UpstreamDatabase) -> str:
    """Raise ``BinlogUnavailable`` unless the binlog is on, in ROW format with full row
    images, and the user may replicate; otherwise say what was found."""
    variables = await upstream.binlog_settings()
    grants = (await upstream.grants()).upper()
    if variables.get("log_bin", "OFF").upper() != "ON":
        raise BinlogUnavailable(
            "the upstream's binary log is off",
            "start MySQL with log_bin on (MySQL 8 has it on by default), or use mode: poll",
        )
    if variables.get("binlog_format", "").upper() != "ROW":
        raise BinlogUnavailable(
            f"binlog_format is {variables.get('binlog_format')}, not ROW",
            "SET GLOBAL binlog_format = 'ROW' (and in the server's config)",
        )
    if variables.get("binlog_row_image", "FULL").upper() != "FULL":
        raise BinlogUnavailable(
            f"binlog_row_image is {variables['binlog_row_image']}, not FULL",
            "SET GLOBAL binlog_row_image = 'FULL' (an update must carry the whole row)",
        )
    for name in _COMPRESSED:
        if variables.get(name, "OFF").upper() == "ON":
            raise BinlogUnavailable(
                f"{name} is ON: compressed binlog events cannot be decoded",
                f"SET GLOBAL {name} = OFF (and in the server's config)",
            )
    everything = "ALL PRIVILEGES ON *.*" in grants
    if not everything and not (_MAY_REPLICATE.search(grants) and _MAY_WATCH.search(grants)):
        raise BinlogUnavailable(
            "the user lacks REPLICATION SLAVE and REPLICATION CLIENT",
            "GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO the user",
        )
    metadata = variables.get("binlog_row_metadata", "MINIMAL").upper()
    return f"ROW, replication allowed, row metadata {metadata}"
