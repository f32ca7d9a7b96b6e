"""Upstream database failures, said so that a person can act on them."""

from __future__ import annotations

import socket

from xiaozhi_server.config import Esp32ServerSettings

_BY_CODE = {
    1045: "the upstream MySQL refused the user or password (esp32_server.db.user / .password)",
    1049: "the upstream database {database} does not exist (esp32_server.db.database)",
    1146: "a table is missing upstream ({detail}); is this a xiaozhi-esp32-server database?",
    1044: "the user may not read database {database}: GRANT SELECT ON {database}.* TO the user",
    1142: "the user may not read a table ({detail}): GRANT SELECT ON {database}.* TO the user",
}


class UpstreamProblem(Exception):
    """An upstream failure whose message already says what happened and what to do."""


def describe(exc: BaseException, settings: Esp32ServerSettings) -> str:
    """One line: what failed and what to do about it (never the password)."""
    if isinstance(exc, UpstreamProblem):
        return str(exc)
    db = settings.db
    where = f"{db.host}:{db.port}"
    if isinstance(exc, socket.gaierror) or "Name or service not known" in str(exc):
        return (
            f"cannot resolve the upstream host {db.host!r}: this host is not on the upstream's "
            "Docker network (join it as an external network, or use a published address)"
        )
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    detail = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
    if code in _BY_CODE:
        return _BY_CODE[code].format(database=db.database, detail=detail)
    if code in (2003, 2002) or isinstance(exc, ConnectionRefusedError | OSError):
        return f"cannot connect to the upstream MySQL at {where}: {detail}"
    if isinstance(exc, TimeoutError):
        return f"the upstream MySQL at {where} did not answer within {settings.timeout:g}s"
    return f"upstream sync failed: {type(exc).__name__}: {detail}"
