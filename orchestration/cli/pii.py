"""`spyne pii`: what detection found in published tables, and people's decisions about it."""

from __future__ import annotations

from typing import Annotated

import typer

from orchestration.cli.common import (
    JsonOpt,
    allowed,
    emit_json,
    new_app,
    out,
    refusals,
    table,
)

app = new_app("Personal data found in tables: list, confirm, reject.")

ColumnArg = Annotated[
    str | None, typer.Argument(metavar="TABLE.COLUMN", help="e.g. bronze.res_partner.email")
]


def _split(value: str) -> tuple[str, str]:
    from policies.errors import ValidationFailed
    from policies.naming import parse_table_ref

    table, _, column = value.rpartition(".")
    if not table or not column:
        raise ValidationFailed(
            f"{value!r} must be written <layer>.<table>.<column>", details={"value": value}
        )
    return parse_table_ref(table).canonical, column


@app.command("list")
def pii_list(
    pending: Annotated[
        bool, typer.Option("--pending", help="Only what waits for a decision.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Every finding: table, column, type, tier, status (values are never shown)."""
    from policies.roles import Operation

    with refusals():
        rt, _me = allowed(Operation.QUERY, "pii")
        found = rt.catalog.pii.columns()
    rows = [
        {
            "table": c.table,
            "column": c.column,
            "kind": c.kind.value,
            "tier": c.tier.value,
            "status": c.status.value,
            "matched": f"{c.matched}/{c.sampled}",
            "decided_by": c.decided_by,
        }
        for c in found
        if not pending or c.status.value == "detected"
    ]
    if as_json:
        emit_json(rows)
        return
    columns = ["table", "column", "kind", "tier", "status", "matched", "decided_by"]
    out.print(table("pii findings", columns, [[r[c] for c in columns] for r in rows]))


def _decide(column: str | None, all_high: bool, confirm: bool) -> None:
    from policies.errors import ValidationFailed
    from policies.pii import Status, Tier
    from policies.roles import Operation

    status = Status.CONFIRMED if confirm else Status.REJECTED
    with refusals():
        rt, me = allowed(Operation.REVIEW_PII, column or "pii")
        if all_high:
            targets = [
                (c.table, c.column)
                for c in rt.catalog.pii.columns()
                if c.tier == Tier.HIGH and c.status == Status.DETECTED
            ]
        elif column is not None:
            targets = [_split(column)]
        else:
            raise ValidationFailed(
                "name a TABLE.COLUMN, or pass --all-high", details={"argument": "TABLE.COLUMN"}
            )
        for t, c in targets:
            decided = rt.catalog.pii.decide(t, c, status, me.name)
            out.print(f"{decided.name}: {decided.status.value} ({decided.kind.value})")


AllHighOpt = Annotated[
    bool, typer.Option("--all-high", help="Every high-confidence finding nobody decided on yet.")
]


@app.command("confirm")
def pii_confirm(column: ColumnArg = None, all_high: AllHighOpt = False) -> None:
    """It is personal data: redact it in every result (engineers and admins; audited)."""
    _decide(column, all_high, confirm=True)


@app.command("reject")
def pii_reject(column: ColumnArg = None, all_high: AllHighOpt = False) -> None:
    """It is not personal data: never redact it, never ask again (engineers and admins)."""
    _decide(column, all_high, confirm=False)
