"""Which accepted join, if any, a join in an ad-hoc query is.

A join a person writes is "reviewed" only when it joins the same two tables on the same
columns as a join an admin accepted: every column of the accepted key, on both sides, appears
in the ON condition. Anything else is shown with a warning that nobody reviewed its keys and
fan-out. Pure: the caller passes the query's canonical table names and the accepted joins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlglot import exp
from sqlglot.errors import SqlglotError


@dataclass(frozen=True)
class ReviewedJoin:
    """An ACTIVE accepted join: its dbt model and version, who accepted it, and its key."""

    id: int
    model: str
    version: int
    accepted_by: str
    child_table: str
    child_columns: tuple[str, ...]
    parent_table: str
    parent_columns: tuple[str, ...]


def on_columns(on: str | None, dialect: str) -> frozenset[str]:
    """Lower-cased column names the ON condition compares (empty when it cannot be read)."""
    if not on:
        return frozenset()
    try:
        condition = exp.condition(on, dialect=dialect)
    except SqlglotError:
        return frozenset()
    return frozenset(c.name.lower() for c in condition.find_all(exp.Column))


def match(
    joined: str, others: Sequence[str], columns: frozenset[str], accepted: Sequence[ReviewedJoin]
) -> ReviewedJoin | None:
    """The newest accepted join between the table ``joined`` and one of ``others`` (the tables
    already in the query) whose whole key, both sides, is among ``columns``."""
    target = joined.lower()
    rest = {o.lower() for o in others} - {target}
    found = [
        j
        for j in accepted
        if target in (j.child_table.lower(), j.parent_table.lower())
        and ({j.child_table.lower(), j.parent_table.lower()} - {target}) & rest
        and {c.lower() for c in (*j.child_columns, *j.parent_columns)} <= columns
    ]
    return max(found, key=lambda j: (j.version, j.id)) if found else None
