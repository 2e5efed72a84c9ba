"""Facts about a contract's columns the rules read: is a type a timestamp, does a default read
the clock, is a schedule a cron expression. Parsed with sqlglot, never executed."""

from __future__ import annotations

import re
from typing import Any

import sqlglot
from open_data_contract_standard.model import SchemaProperty
from sqlglot import exp

_CRON_FIELD = re.compile(r"^[0-9*/,\-A-Za-z?]+$")
_CRON_ALIASES = frozenset({"@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@annually"})
_TIMESTAMP_TYPES = frozenset(
    {
        exp.DataType.Type.TIMESTAMP,
        exp.DataType.Type.TIMESTAMPTZ,
        exp.DataType.Type.TIMESTAMPLTZ,
        exp.DataType.Type.TIMESTAMPNTZ,
        exp.DataType.Type.TIMESTAMP_S,
        exp.DataType.Type.TIMESTAMP_MS,
        exp.DataType.Type.TIMESTAMP_NS,
        exp.DataType.Type.DATETIME,
        exp.DataType.Type.DATETIME64,
    }
)
_CLOCK_NODES = (
    exp.CurrentTimestamp,
    exp.CurrentDate,
    exp.CurrentTime,
    exp.CurrentDatetime,
    exp.Localtimestamp,
    exp.Localtime,
)
_CLOCK_FUNCTIONS = frozenset(
    {
        "now",
        "getdate",
        "getutcdate",
        "sysdate",
        "sysdatetime",
        "systimestamp",
        "transaction_timestamp",
        "statement_timestamp",
        "clock_timestamp",
        "utc_timestamp",
        "current_timestamp",
    }
)


def is_schedule(value: object) -> bool:
    if not isinstance(value, str):
        return False
    text = value.strip()
    if text in _CRON_ALIASES:
        return True
    parts = text.split()
    return len(parts) == 5 and all(_CRON_FIELD.match(p) for p in parts)


def is_timestamp(prop: SchemaProperty) -> bool:
    if prop.logicalType is not None and prop.logicalType != "timestamp":
        return False
    if prop.physicalType is None:
        return prop.logicalType == "timestamp"
    try:
        built = exp.DataType.build(prop.physicalType)
    except (sqlglot.errors.ParseError, ValueError):
        return False
    return built.this in _TIMESTAMP_TYPES


def custom_property(prop: SchemaProperty, name: str) -> Any:
    return next((c.value for c in prop.customProperties or [] if c.property == name), None)


def reads_clock(text: str) -> bool:
    try:
        tree = sqlglot.parse_one(text)
    except sqlglot.errors.SqlglotError:
        return bool(re.search(r"\b(now|current_(timestamp|date|time))\b", text, re.IGNORECASE))
    if tree.find(*_CLOCK_NODES) is not None:
        return True
    return any(f.name.lower() in _CLOCK_FUNCTIONS for f in tree.find_all(exp.Anonymous))
