"""What one layer step does, in order: build what can be built, gate every new version, publish.

The three live in one Dagster step per layer on purpose. Dagster skips a whole downstream step
as soon as one of its upstream assets was not materialized, and fails a step that reported a
failed blocking check; with build, gates and publish in separate steps, one bad table (a failed
dbt test, a model waiting for its first promotion) would take every other table's gate or
publish decision with it. Here each table gets its own verdict and decision, the failed blocking
checks still fail the step at its end (after everything was decided), and the publish policy,
not the step graph, keeps a failed version off the canonical view.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagster import (
    AssetCheckEvaluation,
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetMaterialization,
    AssetObservation,
    MaterializeResult,
    MetadataValue,
    TableColumn,
    TableSchema,
)
from dagster._core.definitions.metadata import TableMetadataSet
from dagster_dbt import DbtCliResource

from orchestration.assets.project import (
    BronzeTable,
    dbt_project,
    manifest,
    published_key,
    ref_for_key,
    shadow_key,
    tables_in,
)
from orchestration.assets.resources import SpyneResource, as_failure
from orchestration.assets.specs import translator, upstream_tables
from policies.builds import decide_build, first_promotion_hint, waiting_message
from policies.decisions import Verdict
from policies.errors import SpyneError
from policies.lifecycle import TableState
from policies.naming import Layer, TableRef

if TYPE_CHECKING:
    from orchestration.catalog import VersionInfo
    from orchestration.identity import Actor
    from orchestration.runtime import Runtime
    from orchestration.services import PromotionPlan
    from orchestration.warehouse import VersionManifest

GATE_CHECK = "ge_gate"
DRIFT_CHECK = "schema_drift"
VERSIONS_ENV = "SPYNE_DBT_VERSIONS"
GATE_PASSED = "passed"
PARTIAL_PARSE = "partial_parse.msgpack"


def version_metadata(info: VersionInfo, manifest: VersionManifest) -> dict[str, Any]:
    return {
        "spyne/version": info.version,
        "spyne/physical_table": info.physical_name,
        "spyne/content_hash": manifest.content_hash,
        "spyne/lifecycle": "SHADOW",
        **TableMetadataSet(
            row_count=manifest.row_count,
            table_name=info.physical_name,
            column_schema=TableSchema(
                columns=[
                    TableColumn(c.name, c.data_type, constraints=None) for c in manifest.schema
                ]
            ),
        ),
    }


@dataclass
class Built:
    version: int
    metadata: dict[str, Any]


@dataclass
class LayerStep:
    """One run of one layer's step: what it built, and what must fail the step at its end."""

    context: AssetExecutionContext
    rt: Runtime
    layer: Layer
    actor: Actor  # who this run acts as: checked on every build and publish
    built: dict[TableRef, Built] = field(default_factory=dict)
    tests: dict[TableRef, list[dict[str, Any]]] = field(default_factory=dict)  # dbt's, per table
    problems: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, context: AssetExecutionContext, spyne: SpyneResource, layer: Layer) -> LayerStep:
        """Who acts, and whether they may build this layer now: refused before anything runs."""
        from orchestration.lifecycle.builds import build_operation

        step = cls(context, spyne.runtime(), layer, spyne.actor(context))
        if step.selected_builds():
            try:
                step.rt.require(step.actor, build_operation(layer), f"{layer.value} layer")
            except SpyneError as err:
                raise as_failure(err) from err
        return step

    # -- what was asked ---------------------------------------------------------------------
    def selected_builds(self) -> list[TableRef]:
        return sorted(
            ref_for_key(k) for k in self.context.selected_asset_keys if k.path[-1] == "shadow"
        )

    def selected_publishes(self) -> list[TableRef]:
        return sorted(
            ref_for_key(k) for k in self.context.selected_asset_keys if k.path[-1] != "shadow"
        )

    def check_selected(self, ref: TableRef, name: str) -> bool:
        return AssetCheckKey(shadow_key(ref), name) in self.context.selected_asset_check_keys

    # -- build ------------------------------------------------------------------------------
    def ingest(self, tables: Mapping[TableRef, BronzeTable]) -> Iterator[MaterializeResult]:
        """Every selected bronze table by its contract, on DuckDB and BigQuery alike."""
        yield from self.ingest_by_contract()

    def ingest_by_contract(self) -> Iterator[MaterializeResult]:
        """Each table by its contract: land the new batch with dlt, apply the semantics."""
        from orchestration.ingestion.bronze import contract_for
        from orchestration.ingestion.runner import bronze_ingest

        ingest = bronze_ingest(self.rt)
        for ref in self.selected_builds():
            try:
                info, built, batch = ingest.ingest(
                    self.actor, contract_for(self.rt.catalog, ref), self.context.run_id
                )
            except SpyneError as err:
                raise as_failure(err) from err
            for warning in batch.warnings:
                self.context.log.warning(warning)
            self.context.log.info(
                f"{ref} v{info.version}: {batch.delivered} new rows in "
                f"{len(batch.batches)} landed batch(es), {batch.accepted} entered, "
                f"{batch.dropped} dropped by the contract's semantics"
            )
            metadata = version_metadata(info, built)
            metadata.update(
                {
                    "spyne/contract": batch.contract,
                    "spyne/base_version": batch.base_version,
                    "spyne/batches": list(batch.batches),
                    "spyne/rows_delivered": batch.delivered,
                    "spyne/rows_accepted": batch.accepted,
                }
            )
            self.built[ref] = Built(info.version, metadata)
            yield MaterializeResult(asset_key=shadow_key(ref), metadata=metadata)

    def waiting(self, refs: Sequence[TableRef]) -> dict[TableRef, str]:
        """Models whose upstream tables have no canonical view yet, with what would unblock them."""
        states = {t.name: t.state for t in self.rt.catalog.list_tables()}
        out: dict[TableRef, str] = {}
        for ref in refs:
            upstream = {up.canonical: states.get(up.canonical) for up in upstream_tables(ref)}
            decision = decide_build(ref.canonical, upstream)
            if not decision.allowed:
                out[ref] = waiting_message(str(ref), decision)
        return out

    def dbt_build(self, dbt: DbtCliResource) -> Iterator[Any]:
        refs = self.selected_builds()
        waiting = self.waiting(refs)
        for message in waiting.values():
            self.context.log.warning(message)
        todo = [ref for ref in refs if ref not in waiting]
        if not todo:
            return
        svc = self.rt.service()
        try:
            with self.rt.warehouse.hold():  # one warehouse connection for every lookup
                versions = {ref.canonical: svc.allocate_version(self.actor, ref) for ref in todo}
        except SpyneError as err:
            raise as_failure(err) from err
        invocation, events = self._dbt(
            dbt, ["build", "--indirect-selection", "buildable", *self._selection(todo)], versions
        )
        with self.rt.warehouse.hold():
            for ref in todo:
                if self.rt.warehouse.version_exists(ref, versions[ref.canonical]):
                    info, built = svc.register_build(
                        self.actor, ref, versions[ref.canonical], self.context.run_id
                    )
                    self.built[ref] = Built(info.version, version_metadata(info, built))
        yield from self._dagster_events(events)
        missing = [ref.canonical for ref in todo if ref not in self.built]
        if missing:
            error = invocation.get_error()
            self.problems.append(
                f"dbt did not build {', '.join(missing)}"
                + (f": {error}" if error else "; see the dbt output of this step")
            )

    def dbt_retest(self, dbt: DbtCliResource) -> Iterator[Any]:
        """Checks asked without a build (from the UI) test the newest build again with dbt.

        The gate counts the dbt tests of the version it judges; re-gating a version without
        them would let a version whose tests failed pass on its expectations alone.
        """
        refs = sorted({ref_for_key(k.asset_key) for k in self.context.selected_asset_check_keys})
        if self.selected_builds() or not refs:
            return
        svc = self.rt.service()
        try:
            versions = {ref.canonical: svc.version(ref.canonical).version for ref in refs}
        except SpyneError as err:  # nothing built yet: nothing to check
            raise as_failure(err) from err
        args = ["test", "--indirect-selection", "buildable", *self._selection(refs)]
        _, events = self._dbt(dbt, args, versions)
        yield from self._dagster_events(events)

    def _dbt(
        self, dbt: DbtCliResource, args: list[str], versions: Mapping[str, int]
    ) -> tuple[Any, list[Any]]:
        """One dbt invocation on the given versions (what ``ref()`` and the materialization use)."""
        # Versions travel in the environment, not --vars, so dbt's partial parse stays valid.
        os.environ[VERSIONS_ENV] = json.dumps(dict(versions))
        try:
            invocation = dbt.cli(
                args,
                manifest=manifest(),
                dagster_dbt_translator=translator(),
                raise_on_error=False,
                target_path=self._target_path(args[0]),
            )
            # dbt holds the DuckDB file for the whole invocation: buffer, then act on it.
            events = list(invocation.stream())
        finally:
            os.environ.pop(VERSIONS_ENV, None)
        _keep_partial_parse(invocation.target_path)
        return invocation, events

    def _target_path(self, command: str) -> Path:
        """dbt's artifacts of this invocation, under SPYNE_HOME rather than in the repository."""
        run = self.context.run_id.split("-")[0]
        return Path(self.rt.settings.home) / "dbt" / f"{run}-{self.layer.value}-{command}"

    def _selection(self, todo: Sequence[TableRef]) -> list[str]:
        if set(todo) == set(tables_in(self.layer)):
            return ["--select", f"path:models/{self.layer.value}"]
        nodes = manifest()["nodes"]
        ids = translator().unique_ids
        return ["--select", " ".join(".".join(nodes[ids[shadow_key(r)]]["fqn"]) for r in todo)]

    def _dagster_events(self, events: Sequence[Any]) -> Iterator[Any]:
        """dbt's events as this step's outputs: builds with their version, tests per table."""
        for event in events:
            if isinstance(event, AssetMaterialization):
                built = self.built.get(ref_for_key(event.asset_key))
                if built is not None:
                    yield MaterializeResult(
                        asset_key=event.asset_key, metadata={**event.metadata, **built.metadata}
                    )
            elif isinstance(event, AssetCheckEvaluation):
                self.tests.setdefault(ref_for_key(event.asset_key), []).append(_dbt_test(event))
                if event.asset_check_key in self.context.selected_asset_check_keys:
                    yield AssetCheckResult(
                        asset_key=event.asset_key,
                        check_name=event.check_name,
                        passed=event.passed,
                        severity=event.severity,
                        metadata=event.metadata,
                    )
            elif isinstance(event, AssetObservation):
                yield event

    # -- gate -------------------------------------------------------------------------------
    def gate(self) -> Iterator[AssetCheckResult]:
        """Every new version's gate (its GE suite and its dbt tests) and its schema drift."""
        # Great Expectations takes seconds to import: only steps that gate pay for it.
        from orchestration.gates.table_gate import run_drift_check, run_table_gate

        asked = {
            ref_for_key(k.asset_key)
            for k in self.context.selected_asset_check_keys
            if k.name in (GATE_CHECK, DRIFT_CHECK)
        }
        # A build that did not happen in this run is not gated again, except when asked alone.
        builds = set(self.selected_builds())
        for ref in sorted(set(self.built) | (asked - builds)):
            built = self.built.get(ref)
            version = built.version if built else None
            if self.check_selected(ref, GATE_CHECK):
                tests = self.tests.get(ref, [])
                outcome = run_table_gate(self.rt, ref, version, actor=self.actor, dbt_tests=tests)
                recorded = self.rt.catalog.get_version(ref.canonical, outcome.version)
                failing = [t.to_dict() for t in outcome.result.dbt_failures]
                yield AssetCheckResult(
                    asset_key=shadow_key(ref),
                    check_name=GATE_CHECK,
                    passed=recorded.gate_status == GATE_PASSED,
                    severity=AssetCheckSeverity.ERROR,
                    description=_gate_summary(ref, outcome.version, outcome.result, failing),
                    metadata={
                        "spyne/version": outcome.version,
                        "evaluated": outcome.result.evaluated,
                        "failed": outcome.result.failed,
                        "suite": outcome.suite_source,
                        "failures": MetadataValue.json(
                            [f.to_dict() for f in outcome.result.results if not f.success]
                        ),
                        "failed_dbt_tests": MetadataValue.json(failing),
                        "dbt_tests": len(tests),
                    },
                )
            if self.check_selected(ref, DRIFT_CHECK):
                drift_version, report = run_drift_check(self.rt, ref, version)
                yield AssetCheckResult(
                    asset_key=shadow_key(ref),
                    check_name=DRIFT_CHECK,
                    passed=not report.breaking,
                    severity=AssetCheckSeverity.ERROR,
                    metadata={
                        "spyne/version": drift_version,
                        "severity": report.severity.name,
                        "summary": report.summary(),
                        "changes": MetadataValue.json(report.to_dict()),
                    },
                )

    # -- publish ----------------------------------------------------------------------------
    def publish(self) -> Iterator[MaterializeResult]:
        """Ask the publish policy for each table built here (or asked alone) and act on it."""
        svc = self.rt.service()
        builds = set(self.selected_builds())
        for ref in self.selected_publishes():
            if ref in builds and ref not in self.built:
                continue  # not built in this run: the reason was logged above
            plan = svc.publish_automatic(self.actor, ref.canonical)
            if plan.applied:
                yield MaterializeResult(asset_key=published_key(ref), metadata=_published(plan))
            else:
                self._explain(plan)

    def _explain(self, plan: PromotionPlan) -> None:
        """Say why a version stays unpublished; waiting for a person is normal, not a failure."""
        table = plan.table
        if plan.table_state == TableState.SHADOW and plan.gate_status.value == GATE_PASSED:
            self.context.log.info(
                f"{table} v{plan.to_version} passed its gates and waits for its first promotion: "
                f"{first_promotion_hint(table)}; layers that read it build once it is ACTIVE"
            )
            return
        stays = (
            f"the canonical view stays on v{plan.from_version}"
            if plan.from_version is not None
            else "it has no canonical view yet"
        )
        log = (
            self.context.log.warning
            if plan.decision.verdict == Verdict.BLOCK
            else self.context.log.info
        )
        log(f"{table} v{plan.to_version} not published ({plan.decision.message}); {stays}")

    def finish(self) -> None:
        """Fail the step only now, after every table got its verdict and publish decision.

        A step that kept some of its work (versions built) fails as PARTIAL_RESULTS, which is
        never retried: a retry would build those tables again.
        """
        if self.problems:
            from orchestration.runs.retries import partial_failure

            raise partial_failure(
                self.problems,
                kept_work=bool(self.built),
                metadata={"layer": self.layer.value, "problems": MetadataValue.json(self.problems)},
            )


def _keep_partial_parse(target_path: Path) -> None:
    """Hand this invocation's parse to the next one (dagster-dbt seeds each from the project's).

    dbt's parse is valid for one environment (the profile's variables); without this, every run
    in another SPYNE_HOME than the one `scripts/setup.sh` parsed with would parse in full. The
    bulky artifacts of the invocation go; its run results and logs stay.
    """
    made = target_path / PARTIAL_PARSE
    if not made.exists():
        return
    shared = dbt_project().project_dir / "target" / PARTIAL_PARSE
    try:
        staged = shared.with_name(f".{PARTIAL_PARSE}.{os.getpid()}")
        shutil.copyfile(made, staged)
        os.replace(staged, shared)  # atomic: a concurrent run reads the old or the new one
    except OSError:
        pass  # a read-only project: the next run parses in full, nothing else changes
    for bulky in (made, target_path / "manifest.json"):
        bulky.unlink(missing_ok=True)


def _dbt_test(event: AssetCheckEvaluation) -> dict[str, Any]:
    """One dbt test's outcome in the shape the table gate records."""
    meta = {k: getattr(v, "value", v) for k, v in event.metadata.items()}
    status = str(meta.get("status") or ("pass" if event.passed else "fail")).lower()
    failing = meta.get("dagster_dbt/failed_row_count")
    return {
        "name": event.check_name,
        "status": status,
        "message": f"{failing} failing rows" if failing else None,
    }


def _gate_summary(ref: TableRef, version: int, result: Any, failing: list[dict[str, Any]]) -> str:
    if not failing and result.success:
        return f"{ref} v{version} passed its gate"
    parts = []
    if failing:
        parts.append("dbt tests failed: " + ", ".join(t["name"] for t in failing))
    if not result.success:
        parts.append(result.message or f"{result.failed} expectation(s) failed")
    return f"{ref} v{version} failed its gate: " + "; ".join(parts)


def _published(plan: PromotionPlan) -> dict[str, Any]:
    return {
        "spyne/version": plan.to_version,
        "spyne/previous_version": plan.from_version if plan.from_version is not None else -1,
        "spyne/drift": plan.drift.severity.name,
        "spyne/lifecycle": "ACTIVE",
    }
