"""A deterministic, Odoo-shaped ERP database that Spyne can ingest as a READ_ONLY source.

It exists so every layer (ingestion, dbt models, gates, reconciliation) can be exercised
end to end on realistic data without access to a real ERP.
"""

from orchestration.sample.generator import ANCHOR_DATE, SOURCE_TABLES, SampleSummary, generate
from orchestration.sample.reconcile import source_metrics

__all__ = ["ANCHOR_DATE", "SOURCE_TABLES", "SampleSummary", "generate", "source_metrics"]
