"""Do dbt's bronze sources say what the contracts say?

dbt docs and ``dbt source freshness`` read the sources yml; ingestion reads the contracts. This
compares the two (tables, columns in order, descriptions, required columns as ``not_null``
tests, PII tags as ``meta.pii``, the contract id, version and mode in ``meta.spyne``, and the
freshness SLA) so a test can fail on any difference instead of the two drifting apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from policies.contracts import Contract

_PERIODS = {"minute": 60, "hour": 3_600, "day": 86_400}


def dbt_period(value: Mapping[str, Any] | None) -> timedelta | None:
    """A dbt freshness threshold (``{count, period}``) as a duration."""
    if not isinstance(value, Mapping) or value.get("period") not in _PERIODS:
        return None
    count = value.get("count")
    return timedelta(seconds=count * _PERIODS[value["period"]]) if isinstance(count, int) else None


def _not_null(column: Mapping[str, Any]) -> bool:
    return any(t == "not_null" for t in column.get("data_tests") or column.get("tests") or [])


def table_disagreements(table: Mapping[str, Any], contract: Contract) -> list[str]:
    name = f"bronze.{table.get('name')}"
    s = contract.semantics
    found: list[str] = []
    spyne = (table.get("meta") or {}).get("spyne") or {}
    expected_meta = {
        "contract": contract.id,
        "contract_version": contract.version,
        "mode": s.mode.value,
    }
    for key, value in expected_meta.items():
        if spyne.get(key) != value:
            found.append(
                f"{name}: meta.spyne.{key} is {spyne.get(key)!r}, the contract says {value!r}"
            )
    config = table.get("config") or {}
    if config.get("loaded_at_field") != s.event_time_column:
        found.append(
            f"{name}: loaded_at_field is {config.get('loaded_at_field')!r}, the contract's event "
            f"time is {s.event_time_column!r}"
        )
    freshness = config.get("freshness") or {}
    for key, limit in (
        ("warn_after", s.freshness.alert_threshold),
        ("error_after", s.freshness.max_lag),
    ):
        if dbt_period(freshness.get(key)) != limit:
            found.append(
                f"{name}: freshness.{key} is {freshness.get(key)!r}, the contract says {limit}"
            )
    columns = list(table.get("columns") or [])
    names = [c.get("name") for c in columns]
    expected = [*contract.column_names, s.processing_time_column]
    if names != expected:
        found.append(f"{name}: columns are {names}, the contract's are {expected}")
    by_name = {c.get("name"): c for c in columns}
    for col in contract.columns:
        dbt = by_name.get(col.name)
        if dbt is None:
            continue
        if (dbt.get("description") or None) != (col.description or None):
            found.append(f"{name}.{col.name}: the description differs from the contract's")
        if _not_null(dbt) != col.required:
            found.append(
                f"{name}.{col.name}: not_null test {'present' if _not_null(dbt) else 'missing'}, "
                f"the contract says required: {col.required}"
            )
        if bool((dbt.get("meta") or {}).get("pii")) != col.pii:
            found.append(f"{name}.{col.name}: meta.pii differs from the contract's pii tag")
    return found


def source_disagreements(
    tables: Sequence[Mapping[str, Any]], contracts: Sequence[Contract]
) -> list[str]:
    """Every difference between the bronze sources and the contracts; empty when they agree."""
    by_table = {c.table: c for c in contracts}
    found = [
        f"bronze.{t.get('name')}: no contract describes this table"
        for t in tables
        if t.get("name") not in by_table
    ]
    listed = {t.get("name") for t in tables}
    found += [
        f"bronze.{c}: a contract exists but dbt has no source" for c in by_table if c not in listed
    ]
    for table in tables:
        contract = by_table.get(str(table.get("name")))
        if contract is not None:
            found += table_disagreements(table, contract)
    return found
