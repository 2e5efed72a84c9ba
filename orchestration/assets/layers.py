"""Asset factories: sources, bronze ingestion, dbt builds, gates and publishing, per layer.

Each promotable table is two assets: ``<layer>/<table>/shadow`` (a new immutable version per
build, gated by blocking checks) and ``<layer>/<table>`` (the canonical view; materializing it
is a publish: an O(1) view swap, only when the publish policy allows it).
"""

import json
import os
from collections.abc import Iterator, Sequence
from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    Failure,
    MaterializeResult,
    MetadataValue,
    Output,
    multi_asset,
    multi_asset_check,
)
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.assets.project import (
    SpyneTranslator,
    bronze_tables,
    dbt_project,
    model_refs,
    published_key,
    ref_for_key,
    shadow_key,
)
from orchestration.assets.resources import SpyneResource, as_failure
from orchestration.catalog import VersionInfo
from orchestration.warehouse import VersionManifest
from policies.errors import SpyneError
from policies.naming import Layer, TableRef

GATE_CHECK = "ge_gate"
VERSIONS_ENV = "SPYNE_DBT_VERSIONS"
DRIFT_CHECK = "schema_drift"


def version_metadata(info: VersionInfo, manifest: VersionManifest) -> dict[str, Any]:
    return {
        "spyne/version": info.version,
        "spyne/physical_table": info.physical_name,
        "spyne/content_hash": manifest.content_hash,
        "dagster/row_count": manifest.row_count,
        "spyne/lifecycle": "SHADOW",
    }


def source_specs() -> list[AssetSpec]:
    return [
        AssetSpec(
            t.source_key,
            group_name="source",
            description=f"READ_ONLY source table {t.source_table}; Spyne never writes it.",
            kinds={"duckdb"},
            metadata={"spyne/lifecycle": "READ_ONLY"},
        )
        for t in bronze_tables()
    ]


def bronze_ingest_assets() -> AssetsDefinition:
    tables = {shadow_key(t.ref): t for t in bronze_tables()}
    specs = [
        AssetSpec(
            key,
            deps=[t.source_key],
            group_name=Layer.BRONZE.value,
            description=f"Build of {t.ref}: a verbatim copy of source {t.source_table} as a new version.",
            kinds={"duckdb"},
            skippable=True,
        )
        for key, t in tables.items()
    ]

    @multi_asset(specs=specs, can_subset=True, name="bronze_ingest")
    def bronze_ingest(
        context: AssetExecutionContext, spyne: SpyneResource
    ) -> Iterator[MaterializeResult]:
        rt = spyne.runtime()
        actor = spyne.actor(context)
        svc = rt.service()
        for key in sorted(context.selected_asset_keys, key=lambda k: k.to_user_string()):
            t = tables[key]
            try:
                info, manifest = svc.ingest(
                    actor, t.ref, rt.source_path, t.source_table, context.run_id
                )
            except SpyneError as err:
                raise as_failure(err) from err
            yield MaterializeResult(asset_key=key, metadata=version_metadata(info, manifest))

    return bronze_ingest


def dbt_layer_assets(layer: Layer) -> AssetsDefinition:
    project = dbt_project()

    @dbt_assets(
        manifest=project.manifest_path,
        project=project,
        select=f"path:models/{layer.value}",
        dagster_dbt_translator=SpyneTranslator(),
        name=f"{layer.value}_build",
    )
    def build(
        context: AssetExecutionContext, dbt: DbtCliResource, spyne: SpyneResource
    ) -> Iterator[Any]:
        rt = spyne.runtime()
        actor = spyne.actor(context)
        svc = rt.service()
        refs = [ref_for_key(k) for k in context.selected_asset_keys]
        try:
            with rt.warehouse.hold():  # one warehouse connection for all the lookups, not one each
                versions = {ref.canonical: svc.allocate_version(actor, ref) for ref in refs}
        except SpyneError as err:
            raise as_failure(err) from err
        # Versions travel in the environment, not --vars, so dbt's partial parse stays valid.
        os.environ[VERSIONS_ENV] = json.dumps(versions)
        try:
            invocation = dbt.cli(
                ["build", "--indirect-selection", "cautious"], context=context, raise_on_error=False
            )
            # dbt holds the DuckDB file for the whole invocation: buffer, then register versions.
            events = list(invocation.stream())
        finally:
            os.environ.pop(VERSIONS_ENV, None)
        built: dict[AssetKey, dict[str, Any]] = {}
        with rt.warehouse.hold():
            for ref in refs:
                if rt.warehouse.version_exists(ref, versions[ref.canonical]):
                    info, manifest = svc.register_build(
                        actor, ref, versions[ref.canonical], context.run_id
                    )
                    built[shadow_key(ref)] = version_metadata(info, manifest)
        for event in events:
            if isinstance(event, Output):
                key = context.asset_key_for_output(event.output_name)
                if key in built:
                    event = event.with_metadata({**event.metadata, **built[key]})
            yield event
        missing = [ref.canonical for ref in refs if shadow_key(ref) not in built]
        if missing:
            raise Failure(
                description=f"dbt did not build {', '.join(missing)}; see the dbt logs of this step",
                metadata={"tables": MetadataValue.json(missing)},
            )

    return build


def gate_checks(layer: Layer, refs: Sequence[TableRef]) -> Any:
    specs = []
    for ref in refs:
        specs.append(
            AssetCheckSpec(
                GATE_CHECK,
                asset=shadow_key(ref),
                blocking=True,
                description=f"Great Expectations suite for {ref} on the new version (SQL pushdown).",
            )
        )
        specs.append(
            AssetCheckSpec(
                DRIFT_CHECK,
                asset=shadow_key(ref),
                blocking=True,
                description=f"Schema of the new version of {ref} vs the ACTIVE one; BREAKING blocks publishing.",
            )
        )

    @multi_asset_check(specs=specs, can_subset=True, name=f"{layer.value}_gates")
    def gates(
        context: AssetCheckExecutionContext, spyne: SpyneResource
    ) -> Iterator[AssetCheckResult]:
        # Great Expectations takes seconds to import: only steps that gate pay for it.
        from orchestration.gates.table_gate import run_drift_check, run_table_gate

        rt = spyne.runtime()
        actor = spyne.actor(context)
        for check_key in sorted(
            context.selected_asset_check_keys, key=lambda k: (k.asset_key.to_user_string(), k.name)
        ):
            ref = ref_for_key(check_key.asset_key)
            if check_key.name == GATE_CHECK:
                outcome = run_table_gate(rt, ref, actor=actor)
                failed = [r for r in outcome.result.results if not r.success]
                yield AssetCheckResult(
                    asset_key=check_key.asset_key,
                    check_name=GATE_CHECK,
                    passed=outcome.result.success,
                    severity=AssetCheckSeverity.ERROR,
                    metadata={
                        "spyne/version": outcome.version,
                        "evaluated": outcome.result.evaluated,
                        "failed": outcome.result.failed,
                        "suite": outcome.suite_source,
                        "failures": MetadataValue.json([f.to_dict() for f in failed]),
                    },
                )
            else:
                version, report = run_drift_check(rt, ref)
                yield AssetCheckResult(
                    asset_key=check_key.asset_key,
                    check_name=DRIFT_CHECK,
                    passed=not report.breaking,
                    severity=AssetCheckSeverity.ERROR,
                    metadata={
                        "spyne/version": version,
                        "severity": report.severity.name,
                        "summary": report.summary(),
                        "changes": MetadataValue.json(report.to_dict()),
                    },
                )

    return gates


def publish_assets(layer: Layer, refs: Sequence[TableRef]) -> AssetsDefinition:
    specs = [
        AssetSpec(
            published_key(ref),
            deps=[shadow_key(ref)],
            group_name=layer.value,
            description=f"Canonical view {ref}: points at the ACTIVE version; publishing is an O(1) view swap.",
            kinds={"duckdb", "view"},
            skippable=True,
        )
        for ref in refs
    ]

    @multi_asset(specs=specs, can_subset=True, name=f"{layer.value}_publish")
    def publish(
        context: AssetExecutionContext, spyne: SpyneResource
    ) -> Iterator[MaterializeResult]:
        svc = spyne.runtime().service()
        actor = spyne.actor(context)
        for key in sorted(context.selected_asset_keys, key=lambda k: k.to_user_string()):
            ref = ref_for_key(key)
            plan = svc.publish_automatic(actor, ref.canonical)
            if plan.applied:
                yield MaterializeResult(
                    asset_key=key,
                    metadata={
                        "spyne/version": plan.to_version,
                        "spyne/previous_version": plan.from_version
                        if plan.from_version is not None
                        else -1,
                        "spyne/drift": plan.drift.severity.name,
                        "spyne/lifecycle": "ACTIVE",
                    },
                )
            else:
                context.log.warning(
                    f"{ref} v{plan.to_version} not published ({plan.decision.verdict.name}): {plan.decision.message}"
                )

    return publish


def all_layer_definitions() -> tuple[list[Any], list[Any]]:
    """(assets, checks) for every layer, in build order."""
    assets: list[Any] = [*source_specs(), bronze_ingest_assets()]
    checks: list[Any] = []
    bronze = [t.ref for t in bronze_tables()]
    checks.append(gate_checks(Layer.BRONZE, bronze))
    assets.append(publish_assets(Layer.BRONZE, bronze))
    for layer in (Layer.SILVER, Layer.JOINS, Layer.GOLD):
        refs = model_refs(layer)
        if not refs:
            continue
        assets.append(dbt_layer_assets(layer))
        checks.append(gate_checks(layer, refs))
        assets.append(publish_assets(layer, refs))
    return assets, checks
