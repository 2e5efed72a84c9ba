"""Facts read off live exceptions raised by the real drivers, and the class they get."""

from __future__ import annotations

import socket

import duckdb
import pytest
import sqlalchemy as sa
from google.api_core import exceptions as google_errors

from orchestration.runs.facts import facts_from_error_info, facts_from_exception
from orchestration.runs.retries import classified_failure
from policies.errors import StorageUnavailable, WarehouseBusy
from policies.failures import FailureClass, classify


def _raised(fn) -> BaseException:  # type: ignore[no-untyped-def]
    try:
        fn()
    except BaseException as exc:
        return exc
    raise AssertionError("nothing was raised")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_psycopg2_connection_refused_through_sqlalchemy() -> None:
    engine = sa.create_engine(f"postgresql+psycopg2://x:y@127.0.0.1:{_closed_port()}/z")
    exc = _raised(lambda: engine.connect())
    engine.dispose()
    facts = facts_from_exception(exc)
    assert facts.exception == "psycopg2.OperationalError"  # the driver's error, not the wrapper
    assert "Connection refused" in facts.message
    assert classify(facts).failure_class == FailureClass.TRANSIENT_ERROR


@pytest.mark.postgres
def test_psycopg2_sqlstate_is_read(pg_url: str) -> None:
    engine = sa.create_engine(pg_url.replace("postgresql://", "postgresql+psycopg2://", 1))
    with engine.connect() as conn:
        exc = _raised(lambda: conn.execute(sa.text("SELECT * FROM no_such_table")))
    engine.dispose()
    facts = facts_from_exception(exc)
    assert facts.sqlstate == "42P01" and facts.exception.startswith("psycopg2.errors.")
    assert classify(facts).failure_class == FailureClass.VALIDATION_FAILED
    with engine.connect() as conn:
        conn.execute(sa.text("SET statement_timeout = 10"))
        slow = _raised(lambda: conn.execute(sa.text("SELECT pg_sleep(1)")))
    engine.dispose()
    timeout = facts_from_exception(slow)
    assert timeout.sqlstate == "57014"
    assert classify(timeout).failure_class == FailureClass.TIMEOUT


def test_duckdb_errors() -> None:
    con = duckdb.connect()
    missing = facts_from_exception(_raised(lambda: con.sql("select * from customers")))
    assert missing.is_a("CatalogException")
    assert classify(missing).failure_class == FailureClass.VALIDATION_FAILED
    bad_cast = facts_from_exception(_raised(lambda: con.sql("select 'n/a'::int").fetchall()))
    assert classify(bad_cast).failure_class == FailureClass.VALIDATION_FAILED


def test_google_api_errors_carry_status_and_reason() -> None:
    exc = google_errors.Forbidden(
        "Exceeded rate limits: too many table update operations for this table",
        errors=[{"reason": "rateLimitExceeded", "message": "Exceeded rate limits"}],
    )
    facts = facts_from_exception(exc)
    assert (facts.http_status, facts.reason) == (403, "rateLimitExceeded")
    found = classify(facts)
    assert (found.failure_class, found.retryable) == (FailureClass.QUOTA_EXCEEDED, True)


def test_a_spyne_refusal_says_more_than_what_it_wraps() -> None:
    def busy() -> None:
        try:
            raise duckdb.IOException('IO Error: Could not set lock on file "/x/w.duckdb"')
        except duckdb.IOException as e:
            raise WarehouseBusy("the warehouse /x/w.duckdb is locked by another process") from e

    facts = facts_from_exception(_raised(busy))
    assert facts.spyne_code == "warehouse_busy"
    failure = classified_failure(_raised(busy))
    assert failure.allow_retries is True
    assert failure.description is not None and failure.description.startswith("[TRANSIENT_ERROR]")
    corrupt = classified_failure(StorageUnavailable("the catalog file /x is corrupt (x)"))
    assert corrupt.allow_retries is False
    assert corrupt.metadata["spyne/failure_class"].value == "VALIDATION_FAILED"


def test_recorded_errors_keep_class_and_message() -> None:
    from dagster._utils.error import serializable_error_info_from_exc_info

    try:
        raise TimeoutError("the BigQuery job did not finish in 600 s")
    except TimeoutError:
        import sys

        info = serializable_error_info_from_exc_info(sys.exc_info())
    facts = facts_from_error_info(info)
    assert facts.exception == "TimeoutError"
    assert facts.message == "the BigQuery job did not finish in 600 s"
    assert classify(facts).failure_class == FailureClass.TIMEOUT
