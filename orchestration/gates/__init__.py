"""Promotion gates: Great Expectations suites run inside the warehouse against a table's shadow version.

A gate is blocking: its verdict decides whether a version may be published. ``suites``
reads and generates the suites, ``runner`` runs one against one table, ``results`` holds
what it found, ``data_docs``/``offline_site`` render the Data Docs site, and ``table_gate``
gates a catalog version and records the verdict. Where the suite runs is a ``GateSource``:
``duckdb_datasource`` (the embedded warehouse) or ``bigquery_datasource`` (prod: every query
dry-run, capped and labelled). Importing this package registers the ``duckdb_sql`` datasource
type, so any GE context created afterwards (ephemeral or file-based) can use it.
"""

from orchestration.gates.duckdb_datasource import DuckDBExecutionEngine, DuckDBSQLDatasource
from orchestration.gates.results import ExpectationOutcome, GateResult
from orchestration.gates.runner import run_gate
from orchestration.gates.suites import (
    load_suite,
    merge_suites,
    suite_from_dbt_node,
    suite_path,
    write_suite,
)

__all__ = [
    "DuckDBExecutionEngine",
    "DuckDBSQLDatasource",
    "ExpectationOutcome",
    "GateResult",
    "load_suite",
    "merge_suites",
    "run_gate",
    "suite_from_dbt_node",
    "suite_path",
    "write_suite",
]
