"""Column types as sqlglot parses them in the dialect they were read from, and the widening lattice.

A type is only meaningful in the engine that reported it: ``TIMESTAMP`` is zone-less in DuckDB and
PostgreSQL but zoned in BigQuery, a bare ``NUMERIC`` is ``DECIMAL(18,3)`` in DuckDB,
``NUMERIC(38,9)`` in BigQuery and unbounded in PostgreSQL, and DuckDB ignores a ``VARCHAR(n)``
length. So each side of a comparison is parsed with its own dialect and reduced to the few facts
widening depends on (family, width, signedness, precision, scale, length). A type sqlglot cannot
read keeps its spelling: any change to it may break readers (principle 7).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from sqlglot import exp
from sqlglot.errors import SqlglotError

from policies.drift_lattice import BIGQUERY, DUCKDB, POSTGRES, Widening

DIALECTS = (DUCKDB, POSTGRES, BIGQUERY)

T = exp.DType

# (bits, signed) of every integer type sqlglot knows.
_INTEGERS: dict[exp.DType, tuple[int, bool]] = {
    T.TINYINT: (8, True),
    T.SMALLINT: (16, True),
    T.SMALLSERIAL: (16, True),
    T.INT: (32, True),
    T.SERIAL: (32, True),
    T.BIGINT: (64, True),
    T.BIGSERIAL: (64, True),
    T.INT128: (128, True),
    T.UTINYINT: (8, False),
    T.USMALLINT: (16, False),
    T.UINT: (32, False),
    T.UBIGINT: (64, False),
    T.UINT128: (128, False),
}
# Decimal digits needed to hold every value of an integer type.
_INTEGER_DIGITS: dict[tuple[int, bool], int] = {
    (8, True): 3,
    (16, True): 5,
    (32, True): 10,
    (64, True): 19,
    (128, True): 39,
    (8, False): 3,
    (16, False): 5,
    (32, False): 10,
    (64, False): 20,
    (128, False): 39,
}
_FLOATS: dict[exp.DType, int] = {T.FLOAT: 32, T.DOUBLE: 64}
_DECIMALS = frozenset({T.DECIMAL, T.BIGDECIMAL})
_STRINGS = frozenset({T.TEXT, T.VARCHAR, T.CHAR, T.NVARCHAR, T.NCHAR, T.BPCHAR})
_TIMESTAMPS = frozenset({T.TIMESTAMP, T.TIMESTAMPNTZ, T.DATETIME})
_ZONED = frozenset({T.TIMESTAMPTZ, T.TIMESTAMPLTZ})
_BINARY = frozenset({T.VARBINARY, T.BINARY, T.BLOB})

# PostgreSQL's NUMERIC without parameters holds up to 131072 digits before the point and 16383
# after it: wider than any parameterised decimal.
_PG_UNBOUNDED = (131072 + 16383, 16383)
# (precision, scale) of a decimal written without parameters, per dialect and type.
_DECIMAL_DEFAULTS: dict[tuple[str, exp.DType], tuple[int, int]] = {
    (DUCKDB, T.DECIMAL): (18, 3),
    (DUCKDB, T.BIGDECIMAL): (76, 38),
    (BIGQUERY, T.DECIMAL): (38, 9),
    (BIGQUERY, T.BIGDECIMAL): (76, 38),
    (POSTGRES, T.DECIMAL): _PG_UNBOUNDED,
    (POSTGRES, T.BIGDECIMAL): _PG_UNBOUNDED,
}


@dataclass(frozen=True)
class ColumnType:
    """A parsed type reduced to what widening depends on."""

    family: str  # integer | float | decimal | string | boolean | date | timestamp | ... | opaque
    bits: int = 0
    signed: bool = True
    precision: int = 0
    scale: int = 0
    length: int | None = None  # strings: None is unbounded
    text: str = ""  # opaque and nested types compare by sqlglot's canonical spelling


def _int_arg(dt: exp.DataType, i: int) -> int | None:
    if len(dt.expressions) <= i:
        return None
    node = dt.expressions[i]
    value = node.this if isinstance(node, exp.DataTypeParam) else node
    text = value.name if isinstance(value, exp.Expression) else str(value)
    return int(text) if text.isdigit() else None


def _reduce(dt: exp.DataType, dialect: str) -> ColumnType:
    kind = dt.this
    if kind in _INTEGERS and not dt.expressions:
        bits, signed = _INTEGERS[kind]
        return ColumnType("integer", bits=bits, signed=signed)
    if kind in _FLOATS and not dt.expressions:
        return ColumnType("float", bits=_FLOATS[kind])
    if kind in _DECIMALS and len(dt.expressions) <= 2:
        precision = _int_arg(dt, 0)
        if precision is None:
            precision, scale = _DECIMAL_DEFAULTS[(dialect, kind)]
        else:
            scale = _int_arg(dt, 1) or 0
        return ColumnType("decimal", precision=precision, scale=scale)
    if kind in _STRINGS and len(dt.expressions) <= 1:
        return ColumnType("string", length=_int_arg(dt, 0))
    if kind in _TIMESTAMPS and not dt.expressions:
        return ColumnType("timestamp")
    if kind in _ZONED and not dt.expressions:
        return ColumnType("timestamptz")
    if kind in _BINARY and not dt.expressions:
        return ColumnType("binary")
    if kind in (T.BOOLEAN, T.DATE, T.UUID, T.JSON) and not dt.expressions:
        return ColumnType(kind.value.lower())
    return ColumnType("opaque", text=dt.sql())


@lru_cache(maxsize=4096)
def parse_type(raw: str, dialect: str = DUCKDB) -> ColumnType:
    """``raw`` as the engine of ``dialect`` means it (cached: schemas repeat a few types)."""
    if dialect not in DIALECTS:
        raise ValueError(f"unknown dialect {dialect!r}; expected one of {', '.join(DIALECTS)}")
    try:
        dt = exp.DataType.build(raw.strip(), dialect=dialect, udt=True)
    except (SqlglotError, ValueError):
        return ColumnType("opaque", text=" ".join(raw.upper().split()))
    if dt.this == T.USERDEFINED:
        return ColumnType("opaque", text=" ".join(raw.upper().split()))
    return _reduce(dt, dialect)


def relate(before: ColumnType, after: ColumnType) -> Widening:
    """Where ``after`` stands from ``before`` in the widening lattice."""
    if before == after:
        return Widening.SAME
    b, a = before, after
    if b.family == a.family == "integer":
        if b.signed == a.signed and a.bits >= b.bits:
            return Widening.EXACT
        if not b.signed and a.signed and a.bits > b.bits:
            return Widening.EXACT
    elif b.family == a.family == "float":
        if a.bits >= b.bits:
            return Widening.EXACT
    elif b.family == a.family == "decimal":
        if a.scale >= b.scale and a.precision - a.scale >= b.precision - b.scale:
            return Widening.EXACT
    elif b.family == a.family == "string":
        if a.length is None or (b.length is not None and a.length >= b.length):
            return Widening.EXACT
    elif b.family == "integer" and a.family == "decimal":
        if a.precision - a.scale >= _INTEGER_DIGITS[(b.bits, b.signed)]:
            return Widening.EXACT
    elif b.family == "integer" and a.family == "float" and a.bits == 64:
        return Widening.LOSSY  # every value fits, large ones lose precision
    elif b.family == "date" and a.family == "timestamp":
        return Widening.LOSSY  # readers comparing with dates now see midnight timestamps
    return Widening.INCOMPATIBLE


def same_type(a: str, b: str, a_dialect: str = DUCKDB, b_dialect: str | None = None) -> bool:
    """True when two spellings name the same type (BigQuery ``INT64`` and DuckDB ``BIGINT``)."""
    return parse_type(a, a_dialect) == parse_type(b, b_dialect or a_dialect)
