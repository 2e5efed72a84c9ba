"""How Spyne runs a BigQuery job: dry run first, capped, labelled, errors made typed.

Every query is dry-run before it runs; the estimate goes to ``policies.query_cost`` and a query
over the byte cap is refused before it starts. The job that runs carries the same cap as
``maximum_bytes_billed`` (BigQuery itself stops it if the estimate was wrong) and labels that
name the action, table, version and principal, so billing exports say who scanned what.
Load jobs (a batch of rows) scan nothing and carry the labels only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import IO, Protocol

import pyarrow as pa
from google.api_core import exceptions as google_errors
from google.auth import exceptions as auth_errors
from google.cloud import bigquery

from orchestration.warehouse.interface import current_principal
from policies.errors import ConfigError, CostLimitExceeded, StorageUnavailable
from policies.naming import TableRef
from policies.query_cost import CostFacts, decide_query_cost, size

APP_LABEL = "spyne"
_LABEL_OK = re.compile(r"[^a-z0-9_-]")
MAX_LABEL_LENGTH = 63


class BigQueryClient(Protocol):
    """The part of ``google.cloud.bigquery.Client`` Spyne uses (a test fake has the same)."""

    def query(
        self,
        query: str,
        job_config: bigquery.QueryJobConfig | None = None,
        *,
        location: str | None = None,
    ) -> bigquery.QueryJob: ...

    def load_table_from_file(
        self,
        file_obj: IO[bytes],
        destination: str,
        *,
        location: str | None = None,
        job_config: bigquery.LoadJobConfig | None = None,
    ) -> bigquery.LoadJob: ...

    def get_table(self, table: str) -> bigquery.Table: ...


def label_value(text: str) -> str:
    """BigQuery label values: lowercase letters, digits, ``_`` and ``-``, at most 63 characters."""
    return _LABEL_OK.sub("_", text.lower())[:MAX_LABEL_LENGTH]


def job_labels(
    action: str, ref: TableRef | None = None, version: int | None = None
) -> dict[str, str]:
    labels = {"app": APP_LABEL, "action": label_value(action)}
    if ref is not None:
        labels |= {"layer": ref.layer.value, "table": label_value(ref.name)}
    if version is not None:
        labels["version"] = str(version)
    principal = current_principal()
    if principal:
        labels["principal"] = label_value(principal)
    return labels


def _over_cap(exc: google_errors.GoogleAPICallError) -> bool:
    reasons = {str(e.get("reason", "")) for e in (exc.errors or []) if isinstance(e, Mapping)}
    return "bytesBilledLimitExceeded" in reasons or "bytes billed" in str(exc.message).lower()


class Jobs:
    def __init__(self, client: BigQueryClient, *, location: str, max_bytes: int) -> None:
        self.client = client
        self.location = location
        self.max_bytes = max_bytes

    @contextmanager
    def errors(self, action: str, table: str | None) -> Iterator[None]:
        """What BigQuery says, as typed refusals; NotFound and Conflict stay for the caller."""
        subject = f"{action} of {table}" if table else action
        try:
            yield
        except (google_errors.NotFound, google_errors.Conflict):
            raise
        except google_errors.GoogleAPICallError as exc:
            if _over_cap(exc):
                raise CostLimitExceeded(
                    f"{subject} was stopped by BigQuery: it would bill more than the cap of "
                    f"{size(self.max_bytes)}; nothing was changed. Raise SPYNE_BQ_MAX_BYTES if "
                    "this scan is expected",
                    details={"action": action, "table": table, "max_bytes": self.max_bytes},
                ) from exc
            raise StorageUnavailable(
                f"BigQuery refused {subject}: {exc.message}",
                details={"action": action, "table": table, "status": exc.code},
            ) from exc
        except auth_errors.GoogleAuthError as exc:
            raise ConfigError(
                f"BigQuery credentials do not work for {subject}: {exc}; set "
                "GOOGLE_APPLICATION_CREDENTIALS or run `gcloud auth application-default login`",
                details={"action": action, "variable": "GOOGLE_APPLICATION_CREDENTIALS"},
            ) from exc

    def estimate(self, sql: str, labels: Mapping[str, str]) -> int | None:
        """The bytes ``sql`` would scan (a dry run: nothing runs, nothing is billed)."""
        config = bigquery.QueryJobConfig(dry_run=True, use_query_cache=False, labels=dict(labels))
        with self.errors(labels.get("action", "query"), labels.get("table")):
            job = self.client.query(sql, job_config=config, location=self.location)
        return job.total_bytes_processed

    def run(
        self,
        sql: str,
        labels: Mapping[str, str],
        *,
        scans_data: bool,
        table: str | None = None,
    ) -> list[tuple[object, ...]]:
        return [
            tuple(row.values())
            for row in self.run_rows(sql, labels, scans_data=scans_data, table=table)
        ]

    def run_rows(
        self,
        sql: str,
        labels: Mapping[str, str],
        *,
        scans_data: bool,
        table: str | None = None,
    ) -> list[bigquery.Row]:
        """As :meth:`run`, keeping BigQuery's rows (their column names with them)."""
        action = labels.get("action", "query")
        estimated = self.estimate(sql, labels)
        facts = CostFacts(action, scans_data, estimated, self.max_bytes, table)
        decide_query_cost(facts).raise_unless_allowed()
        config = bigquery.QueryJobConfig(maximum_bytes_billed=self.max_bytes, labels=dict(labels))
        with self.errors(action, table):
            job = self.client.query(sql, job_config=config, location=self.location)
            return list(job.result())

    def run_arrow(
        self, sql: str, labels: Mapping[str, str], *, table: str | None = None
    ) -> pa.Table:
        """As :meth:`run`, the rows as Arrow (BigQuery's types, even for no rows)."""
        action = labels.get("action", "query")
        estimated = self.estimate(sql, labels)
        facts = CostFacts(action, True, estimated, self.max_bytes, table)
        decide_query_cost(facts).raise_unless_allowed()
        config = bigquery.QueryJobConfig(maximum_bytes_billed=self.max_bytes, labels=dict(labels))
        with self.errors(action, table):
            job = self.client.query(sql, job_config=config, location=self.location)
            return job.result().to_arrow(create_bqstorage_client=False)

    def load_parquet(
        self, data: IO[bytes], destination: str, labels: Mapping[str, str], *, append: bool
    ) -> None:
        """Write rows into a table: WRITE_EMPTY for a new version, WRITE_APPEND onto a clone."""
        config = bigquery.LoadJobConfig(
            source_format=bigquery.SourceFormat.PARQUET,
            write_disposition=(
                bigquery.WriteDisposition.WRITE_APPEND
                if append
                else bigquery.WriteDisposition.WRITE_EMPTY
            ),
            labels=dict(labels),
        )
        with self.errors(labels.get("action", "load"), labels.get("table")):
            job = self.client.load_table_from_file(
                data, destination, location=self.location, job_config=config
            )
            job.result()
