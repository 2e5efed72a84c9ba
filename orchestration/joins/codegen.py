"""An accepted join as dbt code: one SQL file per version and one yml for the model.

The SQL is written in the style of the project's models (import CTEs first, lowercase): the
child's rows, each with its parent's columns, prefixed by the parent's name. The yml has the
grain sentence, every version (dbt model versions; the older ones with a deprecation date),
each version's review metadata under ``meta.spyne``, and its tests: relationships and not-null
on the join key, unique and not-null on the child's own key, and a fan-out guard.

Files are replaced atomically (written beside, flushed, renamed): a reader, or a process killed
at any instant, sees either the old file or the new one. The yml is written last: a version
exists for dbt once the yml lists it, so it is the commit point of an acceptance.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from policies.joins.acceptance import JoinType
from policies.naming import Layer, parse_table_ref

MAX_FAN_OUT_GUARD = 100  # explosive above this many child rows on one parent


@dataclass(frozen=True)
class JoinSpec:
    model: str
    version: int
    child_table: str
    child_columns: tuple[str, ...]
    parent_table: str
    parent_columns: tuple[str, ...]
    child_all: tuple[str, ...]  # every column of the child, carried as they are
    parent_shown: tuple[str, ...]  # parent columns carried onto each child row, prefixed
    child_key: str | None  # the child's own unique key, when it has one
    join_type: JoinType
    review: Mapping[str, Any]  # meta.spyne: who, when, why, candidate, confidence, stats

    @property
    def child_name(self) -> str:
        return self.child_table.rsplit(".", 1)[-1]

    @property
    def parent_name(self) -> str:
        return self.parent_table.rsplit(".", 1)[-1]

    def definition(self) -> dict[str, Any]:
        """What makes two versions the same join (the review metadata aside)."""
        return {
            "child": self.child_table,
            "child_columns": list(self.child_columns),
            "parent": self.parent_table,
            "parent_columns": list(self.parent_columns),
            "join_type": self.join_type.value,
        }


def _relation(table: str) -> str:
    ref = parse_table_ref(table)
    if ref.layer == Layer.BRONZE:
        return f"{{{{ source('bronze', '{ref.name}') }}}}"
    return f"{{{{ ref('{ref.name}') }}}}"


def sql_path(project: Path, model: str, version: int) -> Path:
    return project / "models" / "joins" / f"{model}_v{version}.sql"


def yml_path(project: Path, model: str) -> Path:
    return project / "models" / "joins" / f"{model}.yml"


def render_sql(spec: JoinSpec) -> str:
    child, parent = spec.child_name, spec.parent_name
    alias = parent if parent != child else f"{parent}_parent"
    carried = [f"        {alias}.{c} as {parent}_{c}" for c in spec.parent_shown]
    on = "\n        and ".join(
        f"{child}.{c} = {alias}.{p}"
        for c, p in zip(spec.child_columns, spec.parent_columns, strict=True)
    )
    select = ",\n".join([f"        {child}.*", *carried])
    return (
        f"-- Accepted join {spec.model} v{spec.version}: "
        f"{spec.child_table}({', '.join(spec.child_columns)}) -> "
        f"{spec.parent_table}({', '.join(spec.parent_columns)}).\n"
        f"-- Reviewed code written by `spyne joins accept`; the review is in {spec.model}.yml.\n"
        "with\n\n"
        f"{child} as (\n\n    select * from {_relation(spec.child_table)}\n\n),\n\n"
        f"{alias} as (\n\n    select * from {_relation(spec.parent_table)}\n\n),\n\n"
        "joined as (\n\n"
        f"    select\n{select}\n"
        f"    from {child}\n"
        f"    {spec.join_type.value} join {alias}\n"
        f"        on {on}\n\n"
        ")\n\n"
        "select * from joined\n"
    )


def _tests(spec: JoinSpec, orphans: bool, nulls: bool) -> tuple[list[Any], list[Any]]:
    """Every column of the model (the gate's column set), with the join's tests on the keys."""
    columns: dict[str, dict[str, Any]] = {
        c: {"name": c, "description": f"{c} of the {spec.child_table} row."} for c in spec.child_all
    }
    for c in spec.parent_shown:
        name = f"{spec.parent_name}_{c}"
        columns[name] = {"name": name, "description": f"{c} of the {spec.parent_table} row."}
    guard = {
        "spyne_join_fan_out": {
            "arguments": {
                "columns": list(spec.child_columns),
                "to": f"ref('{spec.parent_name}')"
                if parse_table_ref(spec.parent_table).layer != Layer.BRONZE
                else f"source('bronze', '{spec.parent_name}')",
                "fields": list(spec.parent_columns),
                # Explosive above 100, or above twice the fan-out accepted at review.
                "max_fan_out": max(
                    MAX_FAN_OUT_GUARD,
                    2 * int(spec.review.get("stats", {}).get("max_fan_out", 0)),
                ),
            }
        }
    }
    if len(spec.child_columns) == 1:
        key = spec.child_columns[0]
        tests: list[Any] = [
            {
                "relationships": {
                    "arguments": {
                        "to": guard["spyne_join_fan_out"]["arguments"]["to"],
                        "field": spec.parent_columns[0],
                    },
                    # Orphans were accepted knowingly (left join): reported, not a failure.
                    "config": {"severity": "warn" if orphans else "error"},
                }
            }
        ]
        if not nulls:
            tests.append("not_null")
        columns.setdefault(key, {"name": key})["data_tests"] = tests
    if spec.child_key and spec.child_key not in spec.child_columns:
        columns.setdefault(spec.child_key, {"name": spec.child_key})["data_tests"] = [
            "unique",
            "not_null",
        ]
    return list(columns.values()), [guard]


def version_entry(spec: JoinSpec) -> dict[str, Any]:
    stats = spec.review.get("stats", {})
    columns, tests = _tests(
        spec, orphans=bool(stats.get("orphan_rows")), nulls=bool(stats.get("child_null_rows"))
    )
    return {
        "v": spec.version,
        "config": {"meta": {"spyne": {**spec.review, "join": spec.definition()}}},
        "columns": columns,
        "data_tests": tests,
    }


def grain(spec: JoinSpec) -> str:
    kept = "every" if spec.join_type == JoinType.LEFT else "each matched"
    return (
        f"One row per row of {spec.child_table} ({kept} row, {spec.join_type.value} join), "
        f"with the columns of its {spec.parent_table} row found by "
        f"{', '.join(spec.child_columns)} = {', '.join(spec.parent_columns)}; the parent key is "
        "unique, so the join never multiplies rows."
    )


def read_model(project: Path, model: str) -> dict[str, Any] | None:
    path = yml_path(project, model)
    if not path.exists():
        return None
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    for m in data.get("models", []):
        if m.get("name") == model:
            return dict(m)
    return None


def versions_in(model: Mapping[str, Any] | None) -> dict[int, dict[str, Any]]:
    if not model:
        return {}
    return {int(v["v"]): dict(v) for v in model.get("versions", [])}


def render_yml(existing: Mapping[str, Any] | None, spec: JoinSpec, deprecation_date: str) -> str:
    """The model's yml with ``spec`` as its latest version; older ones get a deprecation date."""
    versions = versions_in(existing)
    for number, entry in versions.items():
        if number != spec.version:
            entry.setdefault("deprecation_date", deprecation_date)
    versions[spec.version] = version_entry(spec)
    return dump_model(
        {
            "name": spec.model,
            "description": grain(spec),
            "latest_version": spec.version,
            "versions": [versions[n] for n in sorted(versions)],
        }
    )


def dump_model(model: Mapping[str, Any]) -> str:
    header = (
        f"# Accepted join {model['name']}: reviewed code written by `spyne joins accept`.\n"
        "# Each version's review (who, when, why, the candidate and its stats) is in meta.spyne.\n"
    )
    body = yaml.safe_dump(
        {"version": 2, "models": [dict(model)]}, sort_keys=False, allow_unicode=True, width=100
    )
    return header + body


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text``: the old file or the new one, never a part of either."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def leftovers(project: Path) -> Sequence[Path]:
    """Temporary files an interrupted write left beside the join models."""
    folder = project / "models" / "joins"
    return sorted(folder.glob(".*.tmp")) if folder.exists() else []
