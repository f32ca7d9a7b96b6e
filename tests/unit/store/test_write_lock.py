"""Which database errors a write may simply be tried again after."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError, OperationalError

from xiaozhi_server.store.write_lock import is_retryable


class PostgresError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__("error")
        self.sqlstate = sqlstate


def test_a_mariadb_deadlock_is_retried() -> None:
    error = OperationalError("UPDATE", {}, Exception(1213, "Deadlock found"))
    assert is_retryable(error)


def test_a_mariadb_lock_wait_timeout_is_retried() -> None:
    error = OperationalError("UPDATE", {}, Exception(1205, "Lock wait timeout exceeded"))
    assert is_retryable(error)


def test_a_postgresql_deadlock_and_serialization_failure_are_retried() -> None:
    assert is_retryable(OperationalError("UPDATE", {}, PostgresError("40P01")))
    assert is_retryable(OperationalError("UPDATE", {}, PostgresError("40001")))


def test_a_duplicate_key_is_not_retried() -> None:
    assert not is_retryable(IntegrityError("INSERT", {}, Exception(1062, "Duplicate entry")))


def test_an_error_that_is_not_from_the_database_is_not_retried() -> None:
    assert not is_retryable(ValueError("bad"))
