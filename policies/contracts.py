"""Ingestion contracts: an Open Data Contract Standard v3 document per source table, plus
Spyne's ``ingestion_semantics`` (a custom property with vendor ``spyne``).

ODCS says what the table is (owner, columns, types, nullability, descriptions, PII tags); the
semantics say how a batch of it becomes bronze (append or upsert, the idempotency key, event
and processing time, the dedupe window, conflicts, the freshness SLA). :func:`parse_contract`
turns a document (a mapping read from YAML by the caller) into a :class:`Contract` or refuses
it with a typed error naming the contract, the field and the fix; the rules live in
:mod:`policies.contract_rules`
(run by :mod:`policies.contract_check`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

SEMANTICS_PROPERTY = "ingestion_semantics"
SPYNE_VENDOR = "spyne"
DEFAULT_PROPERTY = "default"  # a column's default expression, as a column custom property
PII_TAG = "pii"


class IngestMode(StrEnum):
    APPEND = "append"  # every new event is kept; repeats within the dedupe window are dropped
    UPSERT = "upsert"  # one row per key: the latest event time wins


class ConflictResolution(StrEnum):
    LATEST_WINS = "latest_wins"  # equal event times: the greatest row wins, deterministically
    ERROR = "error"  # equal event times with different rows: refuse the batch, name the keys


@dataclass(frozen=True)
class Freshness:
    max_lag: timedelta  # the newest event older than this: the SLA is broken (dbt error_after)
    alert_threshold: timedelta  # older than this: warn before it breaks (dbt warn_after)
    schedule: str  # when loads are expected, a cron expression (or @hourly, @daily...)


@dataclass(frozen=True)
class IngestionSemantics:
    mode: IngestMode
    idempotency_key: tuple[str, ...]  # for append without a key: the whole row
    event_time_column: str
    processing_time_column: str  # stamped by Spyne at load; never an event time
    dedupe_window: timedelta | None  # append: repeats of a key closer than this are dropped
    conflict_resolution: ConflictResolution
    freshness: Freshness
    unsafe_allow_processing_time: bool = False


@dataclass(frozen=True)
class ContractColumn:
    name: str
    logical_type: str | None
    physical_type: str | None
    required: bool
    description: str | None = None
    pii: bool = False
    primary_key: bool = False


@dataclass(frozen=True)
class Contract:
    id: str
    name: str
    version: str
    table: str  # the bronze table it lands in
    source_table: str  # the table in the source system
    owner: str | None
    description: str | None
    columns: tuple[ContractColumn, ...]
    semantics: IngestionSemantics
    document: Mapping[str, Any] = field(repr=False)  # the ODCS document, normalised
    warnings: tuple[str, ...] = ()

    @property
    def content_hash(self) -> str:
        return content_hash(self.document)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> ContractColumn:
        return next(c for c in self.columns if c.name == name)

    def summary(self) -> dict[str, Any]:
        """What the registry keeps beside the document (and what `contracts list` shows)."""
        s = self.semantics
        return {
            "id": self.id,
            "name": self.name,
            "version": self.version,
            "table": self.table,
            "source_table": self.source_table,
            "owner": self.owner,
            "mode": s.mode.value,
            "idempotency_key": list(s.idempotency_key),
            "event_time_column": s.event_time_column,
            "processing_time_column": s.processing_time_column,
            "dedupe_window_s": None
            if s.dedupe_window is None
            else int(s.dedupe_window.total_seconds()),
            "conflict_resolution": s.conflict_resolution.value,
            "freshness": {
                "max_lag_s": int(s.freshness.max_lag.total_seconds()),
                "alert_threshold_s": int(s.freshness.alert_threshold.total_seconds()),
                "schedule": s.freshness.schedule,
            },
            "unsafe_allow_processing_time": s.unsafe_allow_processing_time,
            "pii_columns": [c.name for c in self.columns if c.pii],
            "warnings": list(self.warnings),
        }


def content_hash(document: Mapping[str, Any]) -> str:
    """Order-independent for keys, exact for values: identical content, identical hash."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def parse_semver(text: object) -> tuple[int, int, int] | None:
    if not isinstance(text, str):
        return None
    parts = text.strip().split(".")
    if len(parts) != 3 or not all(
        p.isdigit() and (p == "0" or not p.startswith("0")) for p in parts
    ):
        return None
    return int(parts[0]), int(parts[1]), int(parts[2])


def parse_contract(document: object, label: str) -> Contract:
    """The contract, or the typed refusal of its first problem (every problem in its details).

    ``label`` names the contract in messages before its id is known (usually the file path).
    """
    from policies.contract_check import check

    return check(document, label)
