"""Run the contract rules in order and build the :class:`Contract` a valid document describes."""

from __future__ import annotations

from collections.abc import Mapping

from open_data_contract_standard.model import OpenDataContractStandard, Team

from policies.contract_rules import GATES, RULES, Draft, Problem, key_columns
from policies.contracts import (
    PII_TAG,
    ConflictResolution,
    Contract,
    ContractColumn,
    Freshness,
    IngestionSemantics,
    IngestMode,
)
from policies.durations import parse_duration


def check(document: object, label: str) -> Contract:
    draft = Draft(label, document)
    problems: list[Problem] = []
    for rule in RULES:
        found = rule(draft)
        problems.extend(found)
        if rule in GATES and any(not p.warning for p in found):
            break
    errors = [p for p in problems if not p.warning]
    raw_id = draft.raw.get("id") if isinstance(draft.raw, Mapping) else None
    name = raw_id if isinstance(raw_id, str) and raw_id else label
    if errors:
        first = errors[0]
        more = f" ({len(errors) - 1} more problems in details)" if len(errors) > 1 else ""
        raise first.error(
            f"contract {name}: {first.field} {first.message}; fix: {first.fix}{more}",
            details={
                "contract": name,
                "source": label,
                "field": first.field,
                "fix": first.fix,
                "problems": [p.to_dict() for p in errors],
            },
        )
    warnings = tuple(
        f"{p.field} {p.message} (accepted: unsafe_allow_processing_time)" for p in problems
    )
    return _build(draft, warnings)


def _build(d: Draft, warnings: tuple[str, ...]) -> Contract:
    assert d.odcs is not None and d.schema is not None
    s = d.semantics
    fresh = s["freshness"]
    mode = IngestMode(s["mode"])
    key = key_columns(d) or (tuple(d.columns) if mode == IngestMode.APPEND else ())
    window = parse_duration(s.get("dedupe_window")) if s.get("dedupe_window") is not None else None
    semantics = IngestionSemantics(
        mode=mode,
        idempotency_key=key,
        event_time_column=s["event_time_column"],
        processing_time_column=s["processing_time_column"],
        dedupe_window=window,
        conflict_resolution=ConflictResolution(s["conflict_resolution"]),
        freshness=Freshness(
            max_lag=parse_duration(fresh["max_lag"]),  # type: ignore[arg-type]
            alert_threshold=parse_duration(fresh["alert_threshold"]),  # type: ignore[arg-type]
            schedule=str(fresh["schedule"]).strip(),
        ),
        unsafe_allow_processing_time=s.get("unsafe_allow_processing_time") is True,
    )
    columns = tuple(
        ContractColumn(
            name=name,
            logical_type=p.logicalType,
            physical_type=p.physicalType,
            required=p.required is True,
            description=p.description,
            pii=PII_TAG in {t.lower() for t in p.tags or []},
            primary_key=p.primaryKey is True,
        )
        for name, p in d.columns.items()
    )
    return Contract(
        id=str(d.odcs.id),
        name=d.odcs.name or str(d.odcs.id),
        version=str(d.odcs.version).strip(),
        table=str(d.schema.name),
        source_table=d.schema.physicalName or str(d.schema.name),
        owner=_owner(d.odcs),
        description=d.schema.description,
        columns=columns,
        semantics=semantics,
        document=d.odcs.model_dump(mode="json", by_alias=True, exclude_none=True),
        warnings=warnings,
    )


def _owner(o: OpenDataContractStandard) -> str | None:
    team = o.team
    members = team.members if isinstance(team, Team) else team
    for member in members or []:
        if (member.role or "").lower() == "owner":
            return member.username or member.name
    return team.name if isinstance(team, Team) else None
