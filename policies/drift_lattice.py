"""The widening lattice's verdicts and the dialect names, apart from the sqlglot type parsing
(:mod:`policies.drift_types`) so that what only needs the verdicts (publish decisions, the
catalog's models) does not import sqlglot."""

from __future__ import annotations

from enum import IntEnum

DUCKDB = "duckdb"
POSTGRES = "postgres"
BIGQUERY = "bigquery"


class Widening(IntEnum):
    """How one type relates to another; ordered like the drift severities it maps to."""

    SAME = 0
    EXACT = 1  # every old value is represented exactly by the new type
    LOSSY = 2  # every old value fits, but readers may notice (precision, midnight timestamps)
    INCOMPATIBLE = 3  # narrowed or unrelated
