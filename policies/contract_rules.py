"""The rules a contract must pass before Spyne ingests by it, in one ordered tuple.

Each rule reads a :class:`Draft` and returns the problems it finds; every problem names the
field and the fix. The first two rules gate the rest (without a valid ODCS document or a
semantics block there is nothing to check further); after them every rule runs, so one
refusal lists every problem at once. A current-time default passes only when the contract
says ``unsafe_allow_processing_time: true``, and then as a warning the registry audits.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pydantic
from open_data_contract_standard.model import (
    OpenDataContractStandard,
    SchemaObject,
    SchemaProperty,
)

from policies.contract_facts import custom_property, is_schedule, is_timestamp, reads_clock
from policies.contracts import (
    DEFAULT_PROPERTY,
    SEMANTICS_PROPERTY,
    ConflictResolution,
    IngestMode,
    parse_semver,
)
from policies.durations import SPELLINGS, parse_duration
from policies.errors import (
    ContractColumnNullable,
    ContractDurationInvalid,
    ContractEventTimeType,
    ContractInvalid,
    ContractKeyRequired,
    ContractProcessingTimeDefault,
    ContractSemanticsInvalid,
    ContractSemanticsMissing,
    ContractUnknownColumn,
    ContractVersionInvalid,
)

API_VERSIONS = frozenset({"v3.0.0", "v3.0.1", "v3.0.2", "v3.1.0", "v3.2.0"})
SEMANTICS_KEYS = frozenset(
    {
        "mode",
        "idempotency_key",
        "event_time_column",
        "processing_time_column",
        "dedupe_window",
        "conflict_resolution",
        "freshness",
        "unsafe_allow_processing_time",
    }
)
FRESHNESS_KEYS = frozenset({"max_lag", "alert_threshold", "schedule"})
_ID = re.compile(r"^[A-Za-z0-9_-]+$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Problem:
    error: type[ContractInvalid]
    field: str
    message: str
    fix: str
    warning: bool = False

    def to_dict(self) -> dict[str, str]:
        return {
            "code": self.error.code,
            "field": self.field,
            "problem": self.message,
            "fix": self.fix,
        }


@dataclass
class Draft:
    label: str
    raw: Any
    odcs: OpenDataContractStandard | None = None
    schema: SchemaObject | None = None
    columns: dict[str, SchemaProperty] = field(default_factory=dict)
    semantics: Mapping[str, Any] = field(default_factory=dict)


Rule = Callable[[Draft], list[Problem]]
SEM = f"customProperties.{SEMANTICS_PROPERTY}"


def document_shape(d: Draft) -> list[Problem]:
    if not isinstance(d.raw, Mapping):
        return [_bad("document", "is not a mapping", "write the contract as a YAML mapping")]
    try:
        d.odcs = OpenDataContractStandard.model_validate(dict(d.raw))
    except pydantic.ValidationError as exc:
        return [
            _bad(
                ".".join(str(p) for p in e["loc"]) or "document",
                e["msg"],
                "follow the ODCS v3 schema (lint it with the ODCS tooling)",
            )
            for e in exc.errors()
        ]
    o, found = d.odcs, []
    if o.apiVersion not in API_VERSIONS:
        found.append(
            _bad("apiVersion", f"is {o.apiVersion!r}", f"use one of {sorted(API_VERSIONS)}")
        )
    if o.kind != "DataContract":
        found.append(_bad("kind", f"is {o.kind!r}", "set kind: DataContract"))
    if not o.id or not _ID.match(o.id):
        found.append(_bad("id", f"is {o.id!r}", "give a stable id of letters, digits, _ and -"))
    if parse_semver(o.version) is None:
        found.append(
            Problem(
                ContractVersionInvalid,
                "version",
                f"is {o.version!r}, not a semantic version",
                "write MAJOR.MINOR.PATCH, e.g. 1.0.0",
            )
        )
    objects = o.schema_ or []
    if len(objects) != 1 or not objects[0].name or not objects[0].properties:
        found.append(
            _bad("schema", "must hold exactly one object", "describe one table with its properties")
        )
        return found
    d.schema = objects[0]
    for prop in objects[0].properties or []:
        if not prop.name or not _IDENT.match(prop.name) or prop.name in d.columns:
            found.append(
                _bad("schema.properties", f"column name {prop.name!r}", "use unique identifiers")
            )
        else:
            d.columns[prop.name] = prop
    return found


def semantics_present(d: Draft) -> list[Problem]:
    assert d.odcs is not None
    blocks = [c for c in d.odcs.customProperties or [] if c.property == SEMANTICS_PROPERTY]
    if len(blocks) == 1 and isinstance(blocks[0].value, Mapping):
        d.semantics = blocks[0].value
        return []
    what = "is missing" if not blocks else "must be one mapping"
    return [
        Problem(
            ContractSemanticsMissing,
            SEM,
            what,
            f"add a customProperties entry `property: {SEMANTICS_PROPERTY}` (vendor: spyne) whose "
            "value holds mode, idempotency_key, event_time_column, processing_time_column, "
            "dedupe_window, conflict_resolution and freshness",
        )
    ]


def semantics_fields(d: Draft) -> list[Problem]:
    s, found = d.semantics, []
    for key in sorted(set(s) - SEMANTICS_KEYS):
        found.append(_sem(key, "is not a semantics field", f"use only {sorted(SEMANTICS_KEYS)}"))
    for key, enum in (("mode", IngestMode), ("conflict_resolution", ConflictResolution)):
        if s.get(key) not in {m.value for m in enum}:
            found.append(_sem(key, f"is {s.get(key)!r}", f"set one of {[m.value for m in enum]}"))
    for key in ("event_time_column", "processing_time_column"):
        if not isinstance(s.get(key), str) or not _IDENT.match(s[key]):
            found.append(_sem(key, f"is {s.get(key)!r}", "name one column (an identifier)"))
    given = s.get("idempotency_key")
    if given is not None and not (
        isinstance(given, str)
        or (isinstance(given, list) and all(isinstance(k, str) for k in given))
    ):
        found.append(_sem("idempotency_key", f"is {given!r}", "list column names"))
    if not isinstance(s.get("unsafe_allow_processing_time", False), bool):
        found.append(
            _sem("unsafe_allow_processing_time", "is not a boolean", "write true or false")
        )
    fresh = s.get("freshness")
    if not isinstance(fresh, Mapping) or set(fresh) != FRESHNESS_KEYS:
        found.append(_sem("freshness", f"is {fresh!r}", f"give exactly {sorted(FRESHNESS_KEYS)}"))
    elif not is_schedule(fresh["schedule"]):
        found.append(
            _sem(
                "freshness.schedule",
                f"is {fresh['schedule']!r}",
                "write a five-field cron expression (0 3 * * *) or @hourly/@daily/@weekly",
            )
        )
    return found


def key_for_upsert(d: Draft) -> list[Problem]:
    if d.semantics.get("mode") == IngestMode.UPSERT.value and not key_columns(d):
        return [
            Problem(
                ContractKeyRequired,
                f"{SEM}.idempotency_key",
                "is missing, and upsert needs it to know which row a new one replaces",
                "list the columns that identify a row, e.g. idempotency_key: [id]",
            )
        ]
    return []


def known_columns(d: Draft) -> list[Problem]:
    found = []
    named = [("idempotency_key", k) for k in key_columns(d)]
    if isinstance(d.semantics.get("event_time_column"), str):
        named.append(("event_time_column", d.semantics["event_time_column"]))
    for key, column in named:
        if column not in d.columns:
            found.append(
                Problem(
                    ContractUnknownColumn,
                    f"{SEM}.{key}",
                    f"names {column!r}, which is not a column of the schema",
                    f"use one of {sorted(d.columns)}",
                )
            )
    return found


def processing_time_apart(d: Draft) -> list[Problem]:
    column = d.semantics.get("processing_time_column")
    if column in d.columns:
        return [
            _sem(
                "processing_time_column",
                f"{column!r} is a source column; Spyne stamps this column at load time",
                "name a column the source does not have, e.g. _spyne_loaded_at",
            )
        ]
    if column is not None and column == d.semantics.get("event_time_column"):
        return [_sem("processing_time_column", "is the event-time column", "use two columns")]
    return []


def event_time_type(d: Draft) -> list[Problem]:
    prop = d.columns.get(str(d.semantics.get("event_time_column")))
    if prop is None or is_timestamp(prop):
        return []
    return [
        Problem(
            ContractEventTimeType,
            f"{SEM}.event_time_column",
            f"names {prop.name!r}, typed {prop.logicalType or prop.physicalType!r}, not a timestamp",
            "point it at a timestamp column (logicalType: timestamp), e.g. write_date",
        )
    ]


def required_columns(d: Draft) -> list[Problem]:
    names = [*key_columns(d)] if d.semantics.get("idempotency_key") else []
    event = d.semantics.get("event_time_column")
    if isinstance(event, str):
        names.append(event)
    return [
        Problem(
            ContractColumnNullable,
            f"schema.properties.{name}.required",
            "is not true, but a null key or event time identifies nothing",
            f"mark {name} required: true (and keep the source from sending nulls)",
        )
        for name in dict.fromkeys(names)
        if name in d.columns and d.columns[name].required is not True
    ]


def durations(d: Draft) -> list[Problem]:
    fields: list[tuple[str, Any]] = [("dedupe_window", d.semantics.get("dedupe_window"))]
    fresh = d.semantics.get("freshness")
    if isinstance(fresh, Mapping):
        fields += [(f"freshness.{k}", fresh.get(k)) for k in ("max_lag", "alert_threshold")]
    found = []
    for key, value in fields:
        if key == "dedupe_window" and value is None:
            if d.semantics.get("mode") == IngestMode.APPEND.value:
                found.append(
                    _sem(
                        key,
                        "is missing; append needs it",
                        "say how far apart repeats are, e.g. 24h",
                    )
                )
            continue
        parsed = parse_duration(value)
        if parsed is None or (key == "dedupe_window" and not parsed):
            found.append(
                Problem(
                    ContractDurationInvalid,
                    f"{SEM}.{key}",
                    f"{value!r} is not a duration",
                    SPELLINGS,
                )
            )
    if isinstance(fresh, Mapping):
        lag, alert = (
            parse_duration(fresh.get("max_lag")),
            parse_duration(fresh.get("alert_threshold")),
        )
        if lag is not None and alert is not None and alert > lag:
            found.append(
                _sem("freshness.alert_threshold", "is above max_lag", "alert before the SLA breaks")
            )
    return found


def current_time_defaults(d: Draft) -> list[Problem]:
    unsafe = d.semantics.get("unsafe_allow_processing_time") is True
    found = []
    for name, prop in d.columns.items():
        default = custom_property(prop, DEFAULT_PROPERTY)
        if default is None or not reads_clock(str(default)):
            continue
        found.append(
            Problem(
                ContractProcessingTimeDefault,
                f"schema.properties.{name}.customProperties.{DEFAULT_PROPERTY}",
                f"is {default!r}: the load's clock, not when the event happened, so replays "
                "and late rows get new times",
                "send the event's own time from the source, or set "
                "unsafe_allow_processing_time: true in the semantics to accept it (warned and audited)",
                warning=unsafe,
            )
        )
    return found


RULES: tuple[Rule, ...] = (
    document_shape,
    semantics_present,
    semantics_fields,
    key_for_upsert,
    known_columns,
    processing_time_apart,
    event_time_type,
    required_columns,
    durations,
    current_time_defaults,
)
GATES: frozenset[Rule] = frozenset({document_shape, semantics_present})


def _bad(where: str, message: str, fix: str) -> Problem:
    return Problem(ContractInvalid, where, message, fix)


def _sem(key: str, message: str, fix: str) -> Problem:
    return Problem(ContractSemanticsInvalid, f"{SEM}.{key}", message, fix)


def key_columns(d: Draft) -> tuple[str, ...]:
    key = d.semantics.get("idempotency_key")
    if isinstance(key, str):
        return (key,)
    if isinstance(key, list) and all(isinstance(k, str) for k in key):
        return tuple(key)
    return ()
