"""Spyne orchestration: everything with I/O (Dagster, warehouse, catalog, CLI)."""
