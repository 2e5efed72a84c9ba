"""May this candidate become a reviewed join model, and what is the model called?

A candidate flagged ``blocked`` (many-to-many) is never accepted; one whose stats degraded since
discovery is refused with the new numbers (:func:`policies.joins.risk.decide_revalidation`).
The model is ``jn_<parent>_<child>`` in the joins layer (single underscores: a double one is
the separator of Spyne's version names), one dbt model per pair, versioned with dbt model
versions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from policies.decisions import Decision, combine_all
from policies.errors import ValidationFailed
from policies.joins.risk import Flag, Revalidation, decide_revalidation
from policies.naming import validate_identifier

MAX_MODEL_NAME = 63  # PostgreSQL's and DuckDB's comfortable identifier length


class JoinType(StrEnum):
    LEFT = "left"
    INNER = "inner"

    @classmethod
    def parse(cls, value: str) -> JoinType:
        try:
            return cls(value.strip().lower())
        except ValueError:
            raise ValidationFailed(
                f"unknown join type {value!r}; use left or inner",
                details={"field": "join_type", "value": value},
            ) from None


def model_name(child_table: str, parent_table: str) -> str:
    """``silver.sale_orders`` -> ``silver.customers``: ``jn_customers_sale_orders``."""
    child, parent = child_table.rsplit(".", 1)[-1], parent_table.rsplit(".", 1)[-1]
    name = f"jn_{parent}_{child}"
    if len(name) > MAX_MODEL_NAME:
        raise ValidationFailed(
            f"the join model name {name} is longer than {MAX_MODEL_NAME} characters",
            details={"model": name},
        )
    return validate_identifier(name, "join model name")


@dataclass(frozen=True)
class AcceptFacts:
    candidate: str
    status: str
    flags: Sequence[str]
    rationale: str
    revalidation: Revalidation


def accept_status(f: AcceptFacts) -> Decision:
    if f.status in ("open", "proposed"):
        return Decision.allow()
    return Decision.block(
        "candidate_status",
        f"candidate {f.candidate} is {f.status}; only open or proposed candidates are accepted",
        candidate=f.candidate,
        status=f.status,
    )


def accept_not_blocked(f: AcceptFacts) -> Decision:
    if Flag.BLOCKED.value not in f.flags:
        return Decision.allow()
    return Decision.block(
        "blocked",
        f"candidate {f.candidate} is many-to-many (flag blocked): it would multiply rows on "
        "both sides, so it cannot be accepted as a join",
        candidate=f.candidate,
    )


def accept_rationale(f: AcceptFacts) -> Decision:
    if f.rationale.strip():
        return Decision.allow()
    return Decision.block(
        "rationale",
        "an accepted join needs a rationale (--rationale TEXT): it is kept in the model's "
        "metadata for reviewers",
        candidate=f.candidate,
    )


def accept_revalidated(f: AcceptFacts) -> Decision:
    return decide_revalidation(f.revalidation)


ACCEPT_RULES = (accept_status, accept_not_blocked, accept_rationale, accept_revalidated)


def decide_accept(f: AcceptFacts) -> Decision:
    return combine_all(tuple(rule(f) for rule in ACCEPT_RULES))
