"""Column types that behave the same on SQLite, MySQL/MariaDB and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, LargeBinary, String, Text
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
AutoId = BigInteger().with_variant(Integer(), "sqlite")
# MySQL's TEXT stops at 64 KiB; chat content has no such limit upstream any more.
LongText = Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
LongBlob = LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")


def utc_text(moment: datetime) -> str:
    """An aware time as fixed-width UTC text with milliseconds ('2026-11-24 08:30:00.123'):
    how SQLite stores a UtcDateTime, and how prepared rows carry times (it sorts as the
    time it holds and crosses to the writer process faster than a datetime)."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.isoformat(" ", "milliseconds")[:23]  # without "+00:00"


def utc_text_from_millis(millis: int) -> str:
    """``utc_text`` of the time ``millis`` milliseconds after the epoch (UTC). Hot in a
    first copy, so the text up to the minute is made once per minute (datetime.isoformat
    took most of the time otherwise)."""
    minute, rest = divmod(millis, 60_000)
    prefix = _MINUTES.get(minute)
    if prefix is None:
        if len(_MINUTES) >= _MINUTES_KEPT:
            _MINUTES.clear()
        prefix = _MINUTES[minute] = (_EPOCH + timedelta(minutes=minute)).strftime("%Y-%m-%d %H:%M:")
    return f"{prefix}{rest // 1000:02d}.{rest % 1000:03d}"


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MINUTES: dict[int, str] = {}
_MINUTES_KEPT = 100_000


def from_utc_text(text: str) -> datetime:
    """The aware UTC time ``utc_text`` wrote."""
    return datetime.fromisoformat(text + "+00:00")


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime with millisecond precision, stored naive in UTC everywhere.

    SQLite keeps it as fixed-width ISO text ('2026-11-24 08:30:00.123'), which sorts
    like the time it holds and is formatted in C rather than by a Python formatter.
    """

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name in ("mysql", "mariadb"):
            return dialect.type_descriptor(mysql.DATETIME(fsp=3))
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(23))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware UTC time is required")
        if dialect.name == "sqlite":
            return utc_text(value)
        if value.tzinfo is not UTC:
            value = value.astimezone(UTC)
        extra = value.microsecond % 1000
        return value.replace(tzinfo=None, microsecond=value.microsecond - extra)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
