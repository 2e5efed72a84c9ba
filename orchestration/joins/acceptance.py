"""Accepting a join: re-validate, decide, then write it as dbt code, surviving a crash anywhere.

Order of an acceptance, under a file lock on the joins folder: settle what an interrupted one
left; measure the join again on the tables' ACTIVE versions and ask the policy (refused, with
the new numbers, when it degraded); record the acceptance as ``pending`` in the catalog; write
the version's SQL and its gate suite, then the model's yml (the commit point, atomic); mark it ACTIVE
(the previous version DEPRECATED). A process killed at any instant leaves a pending row that the
next command settles from the files: the yml lists the version -> ACTIVE; it does not -> the stray
SQL file and suite are removed and the row is kept as DEPRECATED with why. So the files and the catalog always agree
once any `spyne joins` command has run.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from orchestration.catalog import Catalog
from orchestration.catalog.joins import AcceptedJoinInfo, CandidateInfo
from orchestration.identity import Actor
from orchestration.joins import codegen, gate_suite
from orchestration.lifecycle.access import Access
from orchestration.warehouse.interface import JoinSide, Warehouse
from policies.decisions import Decision
from policies.errors import InvalidTransition, NotFound, ValidationFailed
from policies.joins.acceptance import AcceptFacts, JoinType, decide_accept, model_name
from policies.joins.names import key_named
from policies.joins.profiles import TableProfile
from policies.joins.risk import JoinStats, Revalidation
from policies.lifecycle import TableState
from policies.naming import parse_table_ref
from policies.roles import Operation

INTERRUPTED = "acceptance interrupted before its files were written"


@contextmanager
def joins_lock(project: Path) -> Iterator[None]:
    """One acceptance (or settlement) at a time on this dbt project, across processes."""
    folder = project / "models" / "joins"
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / ".spyne-joins.lock").open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def settle(
    catalog: Catalog, project: Path, actor: str, expectations: Path | None = None
) -> list[AcceptedJoinInfo]:
    """Finish or undo interrupted acceptances and deprecations from what the files say
    (``expectations``: the suites' folder, by default the install's)."""
    settled: list[AcceptedJoinInfo] = []
    for leftover in [*codegen.leftovers(project), *gate_suite.leftovers(expectations)]:
        leftover.unlink(missing_ok=True)
    for row in catalog.joins.accepted():
        entry = codegen.versions_in(codegen.read_model(project, row.model_name)).get(row.version)
        if row.state == "pending":
            review = ((entry or {}).get("config") or {}).get("meta", {}).get("spyne", {})
            if entry is not None and review.get("candidate") == row.candidate_id:
                settled.append(catalog.joins.finish_accept(row, actor))
            else:
                if entry is None:
                    codegen.sql_path(project, row.model_name, row.version).unlink(missing_ok=True)
                    gate_suite.suite_file(row.model_name, row.version, expectations).unlink(
                        missing_ok=True
                    )
                settled.append(catalog.joins.abandon_accept(row, actor, INTERRUPTED))
        elif row.state == "ACTIVE" and entry is not None and entry.get("deprecation_date"):
            settled.append(
                catalog.joins.deprecate(row.model_name, row.version, actor, "deprecated in yml")
            )
    return settled


def _active_version(catalog: Catalog, table: str) -> int:
    info = catalog.get_table(table)
    if info.state != TableState.ACTIVE or info.active_version is None:
        raise InvalidTransition(
            f"{table} is {info.state.value}: a join is accepted on ACTIVE tables only",
            details={"table": table, "state": info.state.value},
        )
    return info.active_version


def _child_key(catalog: Catalog, warehouse: Warehouse, table: str, version: int) -> str | None:
    stored = catalog.joins.profiles(warehouse.kind.value, [(table, version)])
    raw = stored.get((table, version))
    profile = (
        TableProfile.from_dict(raw)
        if raw is not None
        else warehouse.profile_table(parse_table_ref(table), version)
    )
    keys = [c.name for c in profile.columns if profile.is_key(c) and key_named(c.name)]
    return keys[0] if keys else None


def _review(
    candidate: CandidateInfo,
    model: str,
    version: int,
    actor: str,
    rationale: str,
    stats: JoinStats,
    versions: tuple[int, int],
) -> dict[str, object]:
    measured = stats.to_dict()
    measured.pop("samples", None)
    return {
        "join_id": model,
        "version": version,
        "accepted_by": actor,
        "accepted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "rationale": rationale,
        "candidate": candidate.id,
        "confidence": candidate.confidence,
        "risk_level": candidate.risk_level,
        "child_version": versions[0],
        "parent_version": versions[1],
        "stats": measured,
    }


def accept(
    catalog: Catalog,
    warehouse: Warehouse,
    actor: Actor,
    candidate_id: str,
    rationale: str,
    join_type: str,
    project: Path,
    expectations: Path | None = None,
) -> AcceptedJoinInfo:
    """Accept a candidate as the next version of its join model (see the module docstring);
    its gate suite goes to ``expectations`` (by default the install's suites)."""
    access = Access(catalog)
    access.require(actor, Operation.ACCEPT_JOIN, candidate_id)
    kind = JoinType.parse(join_type)
    with joins_lock(project):
        settle(catalog, project, actor.name, expectations)
        candidate = catalog.joins.get(candidate_id)
        versions = (
            _active_version(catalog, candidate.child_table),
            _active_version(catalog, candidate.parent_table),
        )
        now = warehouse.join_stats(
            JoinSide(parse_table_ref(candidate.child_table), versions[0], candidate.child_columns),
            JoinSide(
                parse_table_ref(candidate.parent_table), versions[1], candidate.parent_columns
            ),
            samples=0,
        )
        facts = AcceptFacts(
            candidate.id,
            candidate.status,
            candidate.flags,
            rationale,
            Revalidation(JoinStats.from_dict(candidate.stats), now),
        )
        decision: Decision = decide_accept(facts)
        if not decision.allowed:
            access.refuse(actor, Operation.ACCEPT_JOIN.value, candidate_id, decision)
        model = model_name(candidate.child_table, candidate.parent_table)
        existing = codegen.read_model(project, model)
        on_disk = codegen.versions_in(existing)
        parent_ref = parse_table_ref(candidate.parent_table)
        keys = set(candidate.parent_columns)
        shown = tuple(
            c.name for c in warehouse.columns(parent_ref, versions[1]) if c.name not in keys
        )
        child_key = _child_key(catalog, warehouse, candidate.child_table, versions[0])
        child_all = tuple(
            c.name for c in warehouse.columns(parse_table_ref(candidate.child_table), versions[0])
        )

        def spec(version: int) -> codegen.JoinSpec:
            review = _review(candidate, model, version, actor.name, rationale, now, versions)
            return codegen.JoinSpec(
                model, version, candidate.child_table, candidate.child_columns,
                candidate.parent_table, candidate.parent_columns, child_all, shown, child_key,
                kind, review,
            )  # fmt: skip

        latest = max(on_disk) if on_disk else 0
        same = latest and (
            on_disk[latest].get("config", {}).get("meta", {}).get("spyne", {}).get("join")
            == spec(latest).definition()
        )
        known = {a.version for a in catalog.joins.accepted(model) if a.state != "pending"}
        if same and latest in known:
            raise InvalidTransition(
                f"{model} v{latest} already holds this join; change the join type or the "
                "candidate to make a new version",
                details={"model": model, "version": latest},
            )
        pending = catalog.joins.begin_accept(
            candidate, model, kind.value, rationale, actor.name, now.to_dict(),
            at_least=latest if same else latest + 1,
        )  # fmt: skip
        if not same:
            chosen = spec(pending.version)
            codegen.write_atomically(
                codegen.sql_path(project, model, pending.version), codegen.render_sql(chosen)
            )
            gate_suite.write(model, codegen.version_entry(chosen), expectations)
            codegen.write_atomically(
                codegen.yml_path(project, model),
                codegen.render_yml(existing, chosen, datetime.now(UTC).date().isoformat()),
            )
        elif not gate_suite.suite_file(model, latest, expectations).exists():
            gate_suite.write(model, on_disk[latest], expectations)
        return catalog.joins.finish_accept(pending, actor.name)


def deprecate(
    catalog: Catalog,
    actor: Actor,
    target: str,
    reason: str,
    project: Path,
    expectations: Path | None = None,
) -> AcceptedJoinInfo:
    """Deprecate an accepted join's version (``MODEL`` for its ACTIVE one, or ``MODEL:vN``)."""
    Access(catalog).require(actor, Operation.DEPRECATE_JOIN, target)
    if not reason.strip():
        raise ValidationFailed(
            "deprecating a join needs a reason (--reason TEXT)", details={"field": "reason"}
        )
    model, _, wanted = target.partition(":v")
    with joins_lock(project):
        settle(catalog, project, actor.name, expectations)
        rows = [a for a in catalog.joins.accepted(model) if a.state == "ACTIVE"]
        row = next((a for a in rows if not wanted or str(a.version) == wanted), None)
        if row is None:
            raise NotFound(
                f"no ACTIVE accepted join {target}; see `spyne joins list`",
                details={"join": target},
            )
        existing = codegen.read_model(project, model)
        if existing is not None:
            for entry in existing.get("versions", []):
                if int(entry["v"]) == row.version:
                    entry["deprecation_date"] = datetime.now(UTC).date().isoformat()
            codegen.write_atomically(codegen.yml_path(project, model), codegen.dump_model(existing))
        return catalog.joins.deprecate(model, row.version, actor.name, reason)


def reviewed_joins(project: Path) -> dict[str, dict[str, object]]:
    """The latest version of each join model the project holds: model -> its join and review."""
    out: dict[str, dict[str, object]] = {}
    for path in sorted((project / "models" / "joins").glob("jn_*.yml")):
        model = codegen.read_model(project, path.stem)
        versions = codegen.versions_in(model)
        if model is None or not versions:
            continue
        latest = versions[int(model.get("latest_version") or max(versions))]
        out[path.stem] = dict(((latest.get("config") or {}).get("meta") or {}).get("spyne") or {})
    return out


def accept_reviewed(
    catalog: Catalog,
    warehouse: Warehouse,
    actor: Actor,
    project: Path,
    expectations: Path | None = None,
) -> list[AcceptedJoinInfo]:
    """Accept on this install the joins the project already holds as reviewed code.

    A new install learns its joins from the code: each model's latest version is matched with a
    candidate discovered now (same tables, columns), measured again and accepted as that same
    version, without rewriting its files. Models already ACTIVE here are left as they are.
    """
    from orchestration.joins.review import discover_on_platform

    reviewed = reviewed_joins(project)
    active = {a.model_name for a in catalog.joins.accepted() if a.state == "ACTIVE"}
    wanted = {name: r for name, r in reviewed.items() if name not in active}
    if not wanted:
        return []
    found = discover_on_platform(catalog, warehouse, actor, min_confidence=0.5)
    done: list[AcceptedJoinInfo] = []
    for name, review in wanted.items():
        join = dict(review.get("join") or {})  # type: ignore[call-overload]
        match = next(
            (
                c
                for c in found.candidates
                if c.child_table == join.get("child")
                and list(c.child_columns) == join.get("child_columns")
                and c.parent_table == join.get("parent")
                and list(c.parent_columns) == join.get("parent_columns")
            ),
            None,
        )
        if match is None:
            raise NotFound(
                f"the reviewed join {name} was not found among the candidates discovered on "
                "this install's ACTIVE tables; run `spyne joins discover` to see why",
                details={"model": name, "join": join},
            )
        rationale = str(review.get("rationale") or "reviewed code")
        join_type = str(join["join_type"])
        done.append(
            accept(catalog, warehouse, actor, match.id, rationale, join_type, project, expectations)
        )
    return done
