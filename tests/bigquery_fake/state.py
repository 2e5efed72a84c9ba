"""What the fake BigQuery project holds: datasets, tables, clones and views, and how it reads them.

Only what Spyne's statements need: information-schema views (TABLES, COLUMNS, VIEWS, SCHEMATA)
filtered by simple WHERE clauses, row counts, and the content-hash aggregate. The fake's row
fingerprint stands in for FARM_FINGERPRINT (same properties: per row, order-independent sum).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml
from google.api_core import exceptions as google_errors
from sqlglot import exp

FIXTURE = Path(__file__).parent.parent / "integration" / "fixtures" / "bigquery_fake.yaml"
ANSWERS: dict[str, Any] = yaml.safe_load(FIXTURE.read_text(encoding="utf-8"))
ARROW_TYPES: dict[str, str] = ANSWERS["arrow_types"]


@dataclass
class FakeTable:
    dataset: str
    name: str
    kind: str  # BASE TABLE, CLONE or VIEW (INFORMATION_SCHEMA.TABLES.table_type)
    columns: list[tuple[str, str]]  # (name, BigQuery type)
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    description: str | None = None
    column_descriptions: dict[str, str] = field(default_factory=dict)
    view_definition: str | None = None
    view_target: tuple[str, str] | None = None

    @property
    def names(self) -> list[str]:
        return [c for c, _ in self.columns]


def bigquery_type(arrow_type: object) -> str:
    """As a Parquet load types a column; a decimal that NUMERIC holds (scale <= 9, at most 29
    integer digits) is NUMERIC, as BigQuery's default decimal target types choose."""
    if isinstance(arrow_type, pa.Decimal128Type):
        scale, precision = arrow_type.scale, arrow_type.precision
        return "NUMERIC" if scale <= 9 and precision - scale <= 29 else "BIGNUMERIC"
    return ARROW_TYPES.get(str(arrow_type), "STRING")


def fingerprint(names: list[str], row: tuple[Any, ...]) -> int:
    """A signed 64-bit fingerprint of a row's JSON, like FARM_FINGERPRINT(TO_JSON_STRING(t))."""
    text = json.dumps(dict(zip(names, row, strict=True)), default=str, separators=(",", ":"))
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big", signed=True)


def not_found(what: str) -> google_errors.NotFound:
    return google_errors.NotFound(f"Not found: {what}")


class Project:
    def __init__(self, project: str) -> None:
        self.project = project
        self.datasets: set[str] = set()
        self.tables: dict[tuple[str, str], FakeTable] = {}

    # -- names -----------------------------------------------------------------------------
    def split(self, table: exp.Table) -> tuple[str | None, str]:
        """``(dataset, name)``; an INFORMATION_SCHEMA view keeps its ``INFORMATION_SCHEMA.X`` name."""
        if table.catalog and table.catalog != self.project:
            raise google_errors.Forbidden(f"Access Denied: Project {table.catalog}")
        return (table.db or None), table.name

    def get(self, table: exp.Table) -> FakeTable:
        dataset, name = self.split(table)
        if dataset not in self.datasets:
            raise not_found(f"Dataset {self.project}:{dataset}")
        found = self.tables.get((dataset, name))
        if found is None:
            raise not_found(f"Table {self.project}:{dataset}.{name}")
        return found

    def resolve(self, table: FakeTable) -> FakeTable:
        """A view reads the table it selects from."""
        while table.view_target is not None:
            target = self.tables.get(table.view_target)
            if target is None:
                raise not_found(f"Table {self.project}:{'.'.join(table.view_target)}")
            table = target
        return table

    # -- information schema ----------------------------------------------------------------
    def information_schema(self, table: exp.Table) -> list[dict[str, Any]]:
        scope, name = self.split(table)
        view = name.split(".", 1)[1].upper()
        by_region = scope is not None and scope.startswith("region-")
        if not by_region and scope not in self.datasets:
            raise not_found(f"Dataset {self.project}:{scope}")
        if view == "SCHEMATA":
            return [{"schema_name": d} for d in sorted(self.datasets)]
        rows: list[dict[str, Any]] = []
        for (dataset, _), t in sorted(self.tables.items()):
            if not by_region and dataset != scope:
                continue
            base = {"table_catalog": self.project, "table_schema": dataset, "table_name": t.name}
            if view == "TABLES":
                rows.append(base | {"table_type": t.kind})
            elif view == "VIEWS" and t.kind == "VIEW":
                rows.append(base | {"view_definition": t.view_definition})
            elif view == "COLUMNS":
                for position, (column, data_type) in enumerate(t.columns, start=1):
                    rows.append(
                        base
                        | {
                            "column_name": column,
                            "ordinal_position": position,
                            "data_type": data_type,
                            "is_nullable": "YES",
                        }
                    )
        return rows


def evaluate(node: exp.Expr, row: dict[str, Any]) -> Any:
    """The WHERE clauses Spyne writes: AND, =, IN, NOT, columns and literals."""
    if isinstance(node, exp.And):
        return evaluate(node.this, row) and evaluate(node.expression, row)
    if isinstance(node, exp.EQ):
        return evaluate(node.this, row) == evaluate(node.expression, row)
    if isinstance(node, exp.In):
        return evaluate(node.this, row) in [evaluate(e, row) for e in node.expressions]
    if isinstance(node, exp.Not):
        return not evaluate(node.this, row)
    if isinstance(node, exp.Is):
        return evaluate(node.this, row) is evaluate(node.expression, row)
    if isinstance(node, exp.Null):
        return None
    if isinstance(node, exp.Paren):
        return evaluate(node.this, row)
    if isinstance(node, exp.Column):
        return row[node.name]
    if isinstance(node, exp.Literal):
        return node.this if node.is_string else int(node.this)
    raise google_errors.BadRequest(f"the fake cannot evaluate {node.sql('bigquery')}")


def select_rows(select: exp.Select, rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    where = select.args.get("where")
    kept = [r for r in rows if where is None or evaluate(where.this, r)]
    order = select.args.get("order")
    if order is not None:
        keys = [o.this.name for o in order.expressions]
        kept.sort(key=lambda r: tuple((r[k] is not None, r[k]) for k in keys))
    names = [e.name for e in select.expressions]
    return [tuple(r[n] for n in names) for r in kept]
