"""Expectation suites: one GE suite JSON per gated table under ``expectations/<layer>/<table>.json``.

The files are the source of truth a reviewer reads and extends by hand; ``spyne gates
generate`` (re)writes them from the dbt manifest with ``suite_from_dbt_node`` +
``write_suite``. A table without a file is gated by the suite derived from dbt at run time.

Uniqueness is expressed as ``expect_column_proportion_of_unique_values_to_be_between``
(min = max = 1), not ``expect_column_values_to_be_unique``: on SQL both decide the same
thing, but the former pushes down as one ``count(DISTINCT col)`` that GE bundles with the
other aggregates, while the latter runs ``count(*) OVER (PARTITION BY col)`` twice, which
made the gate cost three times a hand-written scan. The runner restores an exact duplicate
count when this check fails.

Every generated suite also holds a row floor: ``expect_table_row_count_to_be_between`` whose
``min_value`` is the suite parameter ``min_rows_vs_active``. Its value depends on what is
ACTIVE when the gate runs, so ``table_gate`` computes it per run (the ACTIVE version's rows
less the publishing policy's ``max_row_drop``); a suite file never holds a stale number.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import great_expectations.expectations as gxe
from great_expectations.core.expectation_suite import ExpectationSuite
from great_expectations.core.suite_parameters import is_suite_parameter
from great_expectations.expectations.metadata_types import FailureSeverity

from orchestration.environment import EXPECTATIONS_DIR
from policies.errors import ValidationFailed
from policies.naming import parse_layer, validate_identifier

UNIQUENESS_EXPECTATION = "expect_column_proportion_of_unique_values_to_be_between"
ROW_COUNT_EXPECTATION = "expect_table_row_count_to_be_between"
# Suite parameter: the fewest rows a version may have against the ACTIVE one. Its value is
# computed when the gate runs (policies.gates.minimum_row_count), never stored in the suite.
MIN_ROWS_PARAMETER = "min_rows_vs_active"
# Expectation meta key marking what generation owns; refresh replaces only those.
GENERATED = "generated"
_SEVERITIES = {"error": "critical", "warn": "warning"}


def suite_path(layer: str, table: str, *, root: Path | None = None) -> Path:
    """Where a table's suite lives; names are validated so they can never leave ``root``."""
    layer_name = parse_layer(layer).value
    table_name = validate_identifier(table)
    return (EXPECTATIONS_DIR if root is None else root) / layer_name / f"{table_name}.json"


def suite_name(layer: str, table: str) -> str:
    return f"{layer}.{table}"


def load_suite(layer: str, table: str, *, root: Path | None = None) -> ExpectationSuite | None:
    """The hand-kept suite of a table, or None when the table has no file.

    A file that exists but cannot be read as a suite raises: silently falling back to the
    derived suite would drop whatever checks a person added by hand.
    """
    path = suite_path(layer, table, root=root)
    if not path.is_file():
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(document, dict):
            raise ValueError("the top level must be a JSON object")
        document.setdefault("name", suite_name(layer, table))
        return ExpectationSuite(**document)
    except Exception as exc:
        raise ValidationFailed(
            f"{path.name} in expectations/{layer}/ is not a valid Great Expectations suite: {exc}",
            details={"path": str(path), "layer": layer, "table": table},
        ) from exc


def suite_document(suite: ExpectationSuite) -> dict[str, Any]:
    """The suite as stored in git: without the ids a GE store assigns, which would churn diffs."""
    document = cast("dict[str, Any]", suite.to_json_dict())
    document.pop("id", None)
    if document.get("notes") is None:
        document.pop("notes", None)
    for expectation in document.get("expectations", []):
        expectation.pop("id", None)
        for key in ("notes", "description", "rendered_content"):
            if expectation.get(key) is None:
                expectation.pop(key, None)
    return document


def write_suite(
    layer: str, table: str, suite: ExpectationSuite, *, root: Path | None = None
) -> Path:
    """Write pretty, key-sorted JSON atomically, so regenerating an unchanged suite is a no-op diff."""
    path = suite_path(layer, table, root=root)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(suite_document(suite), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def uniqueness_expectation(
    column: str,
    meta: Mapping[str, Any] | None = None,
    severity: FailureSeverity = FailureSeverity.CRITICAL,
) -> gxe.Expectation:
    """No duplicate non-null values in ``column``, checked with one ``count(DISTINCT)``."""
    return gxe.ExpectColumnProportionOfUniqueValuesToBeBetween(
        column=column, min_value=1.0, max_value=1.0, meta=dict(meta or {}), severity=severity
    )


def row_floor_expectation() -> gxe.Expectation:
    """At least the ACTIVE version's rows less the allowed drop (a parameter set per run)."""
    return gxe.ExpectTableRowCountToBeBetween(
        min_value={"$PARAMETER": MIN_ROWS_PARAMETER},
        meta={GENERATED: "row drop vs ACTIVE (publishing policy max_row_drop)"},
    )


def is_uniqueness_check(expectation_type: str, kwargs: Mapping[str, Any]) -> bool:
    """True for the proportion-of-unique form above, whose failure needs a duplicate count."""
    return (
        expectation_type == UNIQUENESS_EXPECTATION
        and _as_float(kwargs.get("min_value")) == 1.0
        and _as_float(kwargs.get("max_value")) == 1.0
    )


def suite_from_dbt_node(
    node: Mapping[str, Any], tests: Sequence[Mapping[str, Any]] = ()
) -> ExpectationSuite:
    """Derive a gate suite from a dbt manifest model or source and its generic tests.

    ``tests`` are manifest test nodes (``test_metadata.name`` + ``kwargs``); tests written
    inline on a column (``data_tests``/``tests``, as in a schema.yml) are read too. Tests
    that cannot be expressed faithfully (a ``where`` filter, ``relationships``, packages'
    tests) are listed in the suite's ``meta`` instead of being approximated: dbt still runs
    them, and a looser gate check would be a silent weakening.
    """
    columns = [str(c.get("name") or key) for key, c in (node.get("columns") or {}).items()]
    name = _suite_name_for(node)
    expectations: list[gxe.Expectation] = [
        gxe.ExpectTableColumnsToMatchSet(
            column_set=list(columns),
            exact_match=bool(columns),
            meta={GENERATED: "dbt columns"},
        ),
        gxe.ExpectTableRowCountToBeBetween(min_value=1, meta={GENERATED: "non-empty build"}),
        row_floor_expectation(),
    ]
    table_checks = len(expectations)  # kept first; column checks follow in column order
    skipped: list[dict[str, Any]] = []
    seen: set[str] = set()
    unique_id = node.get("unique_id")
    for test in [*_inline_tests(node), *(t for t in tests if _attached_to(t, unique_id))]:
        expectation, reason = _expectation_for(test)
        if expectation is None:
            skipped.append({"test": _test_label(test), "reason": reason})
            continue
        key = json.dumps(expectation.configuration.to_json_dict(), sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            expectations.append(expectation)
    ordered = expectations[:table_checks] + sorted(
        expectations[table_checks:], key=lambda e: _order_key(e, columns)
    )
    meta: dict[str, Any] = {"spyne": {"generated_from": unique_id or name}}
    if skipped:
        meta["spyne"]["not_translated"] = sorted(skipped, key=lambda s: str(s["test"]))
    return ExpectationSuite(name=name, expectations=ordered, meta=meta)


def merge_suites(
    existing: ExpectationSuite | None, generated: ExpectationSuite
) -> ExpectationSuite:
    """Refresh a stored suite from dbt without losing what people wrote by hand.

    Expectations whose meta has ``generated`` belong to generation and are replaced; all
    others are kept. A hand-kept expectation on the same check (type and column) as a
    generated one wins, which is how a person takes over a generated check: edit it and
    delete its ``generated`` key.
    """
    if existing is None:
        return generated
    kept = [e for e in existing.expectations if GENERATED not in (e.configuration.meta or {})]
    owned = {_check_key(e) for e in kept}
    fresh = [e for e in generated.expectations if _check_key(e) not in owned]
    meta = {**(existing.meta or {}), **(generated.meta or {})}
    return ExpectationSuite(
        name=existing.name or generated.name, expectations=[*fresh, *kept], meta=meta
    )


def _check_key(expectation: gxe.Expectation) -> tuple[str, str | None, tuple[str, ...]]:
    """Type, column and the suite parameters used: a plain row count and the row floor
    against the ACTIVE version are different checks, taken over by hand separately."""
    config = expectation.configuration
    column = config.kwargs.get("column")
    parameters = tuple(
        sorted(str(v["$PARAMETER"]) for v in config.kwargs.values() if is_suite_parameter(v))
    )
    return config.type, None if column is None else str(column), parameters


def _suite_name_for(node: Mapping[str, Any]) -> str:
    table = str(node.get("name", "table"))
    if node.get("resource_type") == "source" or "source_name" in node:
        return suite_name(str(node.get("source_name")), table)
    fqn = node.get("fqn") or []
    if len(fqn) >= 3:
        return suite_name(str(fqn[1]), table)
    return table


def _attached_to(test: Mapping[str, Any], unique_id: Any) -> bool:
    """Manifest tests name their node in ``attached_node`` (models) or ``depends_on`` (sources)."""
    if unique_id is None:
        return True
    attached = test.get("attached_node")
    if attached:
        return bool(attached == unique_id)
    depends = (test.get("depends_on") or {}).get("nodes") or []
    return not depends or unique_id in depends


def _inline_tests(node: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
    """schema.yml-style column tests (``[not_null, {accepted_values: {values: [...]}}]``)."""
    for key, column in (node.get("columns") or {}).items():
        column_name = str(column.get("name") or key)
        for entry in [*(column.get("data_tests") or []), *(column.get("tests") or [])]:
            if isinstance(entry, str):
                yield {"test_metadata": {"name": entry, "kwargs": {}}, "column_name": column_name}
            elif isinstance(entry, Mapping) and len(entry) == 1:
                test_name, args = next(iter(entry.items()))
                args = dict(args or {})
                config = dict(args.pop("config", None) or {})
                for config_key in ("severity", "where", "enabled"):
                    if config_key in args:
                        config[config_key] = args.pop(config_key)
                yield {
                    "test_metadata": {"name": str(test_name), "kwargs": args},
                    "column_name": column_name,
                    "config": config,
                }


def _expectation_for(test: Mapping[str, Any]) -> tuple[gxe.Expectation | None, str]:
    metadata = test.get("test_metadata") or {}
    test_name = str(metadata.get("name") or "")
    namespace = metadata.get("namespace")
    kwargs = dict(metadata.get("kwargs") or {})
    kwargs.update(kwargs.pop("arguments", None) or {})
    config = test.get("config") or {}
    column = test.get("column_name") or kwargs.get("column_name")
    if config.get("enabled") is False:
        return None, "disabled in dbt"
    if namespace:
        return (
            None,
            f"package test {namespace}.{test_name} has no Great Expectations equivalent here",
        )
    if config.get("where"):
        return None, "a `where` filter is not translated"
    if test_name not in {"not_null", "unique", "accepted_values"}:
        return None, f"dbt test {test_name or '?'} has no Great Expectations equivalent here"
    if not isinstance(column, str) or not column:
        return None, "no column"
    meta = {GENERATED: f"dbt test {test_name}"}
    severity = FailureSeverity(
        _SEVERITIES.get(str(config.get("severity") or "error").lower(), "critical")
    )
    if test_name == "not_null":
        return gxe.ExpectColumnValuesToNotBeNull(column=column, meta=meta, severity=severity), ""
    if test_name == "unique":
        return uniqueness_expectation(column, meta, severity), ""
    values = kwargs.get("values")
    if not isinstance(values, list | tuple) or not values:
        return None, "accepted_values without values"
    return (
        gxe.ExpectColumnValuesToBeInSet(
            column=column, value_set=list(values), meta=meta, severity=severity
        ),
        "",
    )


def _order_key(expectation: gxe.Expectation, columns: Sequence[str]) -> tuple[int, str, str]:
    config = expectation.configuration
    column = str(config.kwargs.get("column", ""))
    position = columns.index(column) if column in columns else len(columns)
    return position, column, config.type


def _test_label(test: Mapping[str, Any]) -> str:
    metadata = test.get("test_metadata") or {}
    label = str(test.get("name") or metadata.get("name") or "test")
    column = test.get("column_name")
    return f"{label} ({column})" if column and str(column) not in label else label


def _as_float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
