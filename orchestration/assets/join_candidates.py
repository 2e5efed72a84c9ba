"""The ``joins/candidates`` asset: discovery on the platform's ACTIVE and READ_ONLY tables, shown in
the UI.

Materializing it profiles what changed (profiles are kept per table version), validates the
candidates in SQL and stores them in the catalog; its metadata is the candidate table a reviewer
reads before `spyne joins accept`. It suggests only: nothing reads a candidate.
"""

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from orchestration.assets.resources import SpyneResource, as_failure
from orchestration.runs.retries import RETRY_POLICY, failures_classified
from policies.errors import SpyneError

CANDIDATES_KEY = AssetKey(["joins", "candidates"])


def _markdown(rows: list[dict[str, object]]) -> str:
    head = "| id | child | parent | confidence | risk | cardinality | null % | orphan % | flags |"
    lines = [head, "|---|---|---|---|---|---|---|---|---|"]
    for c in rows:
        lines.append(
            f"| {c['id']} | {c['child_table']}({', '.join(c['child_columns'])}) | "  # type: ignore[arg-type]
            f"{c['parent_table']}({', '.join(c['parent_columns'])}) | {c['confidence']} | "  # type: ignore[arg-type]
            f"{c['risk_level']} | {c['cardinality']} | {c['null_pct']} | {c['orphan_pct']} | "
            f"{', '.join(c['flags']) or '-'} |"  # type: ignore[arg-type]
        )
    return "\n".join(lines)


@asset(
    key=CANDIDATES_KEY,
    group_name="join_discovery",
    description="Join candidates with evidence among the ACTIVE and READ_ONLY tables "
    "(suggestions only; an admin accepts one with `spyne joins accept`).",
    retry_policy=RETRY_POLICY,
    kinds={"python"},
)
def join_candidates(context: AssetExecutionContext, spyne: SpyneResource) -> MaterializeResult:
    from orchestration.joins.review import discover_on_platform

    try:
        with failures_classified():
            rt = spyne.runtime()
            found = discover_on_platform(
                rt.catalog, rt.warehouse, spyne.actor(context), min_confidence=0.5
            )
    except SpyneError as err:
        raise as_failure(err) from err
    rows = [c.to_dict() for c in found.candidates]
    return MaterializeResult(
        metadata={
            "candidates": MetadataValue.md(_markdown(rows)),
            "count": len(rows),
            "tables": found.tables,
            "profiled": found.profiled,
            "profiles_reused": found.reused,
            "validated_pairs": found.validated,
            "seconds": found.seconds.get("total", 0.0),
        }
    )
