"""Asset factories: the READ_ONLY sources, and one step per layer that builds, gates and publishes.

Each promotable table is two assets: ``<layer>/<table>/shadow`` (a new immutable version per
build, gated by blocking checks) and ``<layer>/<table>`` (the canonical view; materializing it
is a publish: an O(1) view swap, only when the publish policy allows it). Bodies stay thin:
the work is in :mod:`orchestration.assets.steps`; whatever a body raises leaves classified, and
the step's retry policy retries only the retryable classes (:mod:`orchestration.runs.retries`).
"""

# No `from __future__ import annotations` here: Dagster reads the bodies' context annotations.
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from dagster import (
    AssetCheckSpec,
    AssetExecutionContext,
    AssetsDefinition,
    AssetSpec,
    multi_asset,
)
from dagster_dbt import DbtCliResource

from orchestration.assets.project import (
    DBT_LAYERS,
    bronze_tables,
    code_reference,
    dbt_project,
    manifest,
    published_key,
    shadow_key,
)
from orchestration.assets.resources import SpyneResource
from orchestration.assets.specs import layer_specs
from orchestration.assets.steps import DRIFT_CHECK, GATE_CHECK, LayerStep
from orchestration.runs.retries import RETRY_POLICY, failures_classified
from policies.naming import Layer, TableRef


def code_reference_to(fn: Callable[..., Any]) -> dict[str, Any]:
    return code_reference(fn.__code__.co_filename, fn.__code__.co_firstlineno)


def source_specs() -> list[AssetSpec]:
    sources = {s["name"]: s for s in manifest()["sources"].values() if s["source_name"] == "bronze"}
    return [
        AssetSpec(
            t.source_key,
            group_name="source",
            description=f"READ_ONLY source table {t.source_table}; Spyne never writes it.",
            kinds={"duckdb"},
            metadata={
                "spyne/lifecycle": "READ_ONLY",
                **code_reference(
                    dbt_project().project_dir / sources[t.ref.name]["original_file_path"]
                ),
            },
        )
        for t in bronze_tables()
    ]


def publish_specs(layer: Layer, refs: Sequence[TableRef]) -> list[AssetSpec]:
    where = code_reference_to(LayerStep.publish)
    return [
        AssetSpec(
            published_key(ref),
            deps=[shadow_key(ref)],
            group_name=layer.value,
            description=f"Canonical view {ref}: points at the ACTIVE version; publishing is an O(1) view swap.",
            kinds={"duckdb", "view"},
            skippable=True,
            metadata=where,
        )
        for ref in refs
    ]


def gate_check_specs(refs: Sequence[TableRef]) -> list[AssetCheckSpec]:
    specs = []
    for ref in refs:
        specs.append(
            AssetCheckSpec(
                GATE_CHECK,
                asset=shadow_key(ref),
                blocking=True,
                description=f"The promotion gate of {ref}: its Great Expectations suite on the "
                "new version (SQL pushdown) and the dbt tests of the build.",
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
    return specs


def bronze_assets() -> AssetsDefinition:
    tables = {t.ref: t for t in bronze_tables()}
    refs = sorted(tables)
    builds = [
        AssetSpec(
            shadow_key(ref),
            deps=[t.source_key],
            group_name=Layer.BRONZE.value,
            description=f"Build of {ref}: the new batch of source {t.source_table}, landed with dlt "
            "and applied to the previous version by the table's contract, as a new version.",
            kinds={"duckdb"},
            skippable=True,
            metadata=code_reference_to(LayerStep.ingest),
        )
        for ref, t in tables.items()
    ]

    @multi_asset(
        specs=[*builds, *publish_specs(Layer.BRONZE, refs)],
        check_specs=gate_check_specs(refs),
        can_subset=True,
        name="bronze_ingest",
        description="Land each source table's new batch, build the new bronze version by its "
        "contract, gate it, publish it.",
        retry_policy=RETRY_POLICY,
    )
    def bronze_ingest(context: AssetExecutionContext, spyne: SpyneResource) -> Iterator[Any]:
        with failures_classified():
            step = LayerStep.start(context, spyne, Layer.BRONZE)
            yield from step.ingest(tables)
            yield from step.gate()
            yield from step.publish()
            step.finish()

    return bronze_ingest


def dbt_layer_assets(layer: Layer) -> AssetsDefinition:
    specs = layer_specs(layer)

    @multi_asset(
        # dbt's specs first: dagster-dbt reads the manifest and translator from the first one.
        specs=[*specs.assets, *publish_specs(layer, specs.refs)],
        check_specs=[*specs.checks, *gate_check_specs(specs.refs)],
        can_subset=True,
        name=f"{layer.value}_build",
        description=f"Build the {layer.value} models with dbt, gate each new version, publish.",
        retry_policy=RETRY_POLICY,
    )
    def build(
        context: AssetExecutionContext, dbt: DbtCliResource, spyne: SpyneResource
    ) -> Iterator[Any]:
        with failures_classified():
            step = LayerStep.start(context, spyne, layer)
            yield from step.dbt_build(dbt)
            yield from step.dbt_retest(dbt)
            yield from step.gate()
            yield from step.publish()
            step.finish()

    return build


def all_layer_definitions() -> list[AssetsDefinition | AssetSpec]:
    """The sources and one build step per layer that has tables, in build order."""
    assets: list[AssetsDefinition | AssetSpec] = [*source_specs(), bronze_assets()]
    assets.extend(dbt_layer_assets(layer) for layer in DBT_LAYERS if layer_specs(layer).assets)
    return assets
