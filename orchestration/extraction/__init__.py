"""Extraction with dlt: a source table's new and changed rows, landed as raw batches.

:mod:`.resources` turns a source table into a dlt resource with an incremental cursor on its
event-time column (dlt's ``sql_database`` source for PostgreSQL; an Arrow reader for the
DuckDB file, which dlt's SQLAlchemy reflection cannot read); :mod:`.landing` runs one dlt
pipeline per table into the warehouse's ``landing`` schema and reports what it landed.
"""

from orchestration.extraction.landing import (
    LANDING_DATASET,
    ExtractSpec,
    LandingReport,
    land,
    landed_rows,
)

__all__ = ["LANDING_DATASET", "ExtractSpec", "LandingReport", "land", "landed_rows"]
