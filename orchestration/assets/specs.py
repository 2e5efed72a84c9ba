"""Dagster specs from the dbt manifest: one translator, every spec derived once, split by layer.

Loading stays close to plain dagster-dbt at any project size: one translator is shared by
every layer (its memo is the point), each model's spec is derived once inside it, and dbt's
selection engine is not run at all, since Spyne takes every model.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from dagster import AssetCheckKey, AssetCheckSpec, AssetDep, AssetKey, AssetSpec
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtProject

from orchestration import environment
from orchestration.assets.project import (
    DBT_LAYERS,
    SHADOW,
    code_reference,
    dbt_project,
    is_table_model,
    manifest,
    model_layer,
    ref_for_key,
    shadow_key,
    table_name,
)
from policies.errors import SpyneError
from policies.naming import Layer, TableRef


class SpyneTranslator(DagsterDbtTranslator):
    """Shadow keys for models, canonical keys across layers; each spec derived exactly once.

    dagster-dbt memoizes its own ``get_asset_spec`` but calls the override for every dependency;
    the memo here keeps the cross-layer rewrite inside that one derivation.
    """

    def __init__(self) -> None:
        # No source metadata on deps: it serves remapping sources by table name, which Spyne
        # does not do, and every job that leaves bronze out compares it dep by dep. Code
        # references come with the metadata (get_metadata), not as a second copy of each spec.
        super().__init__(DagsterDbtTranslatorSettings(enable_source_metadata=False))
        self._specs: dict[tuple[int, str, int], AssetSpec] = {}
        self.unique_ids: dict[AssetKey, str] = {}

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        return shadow_key(TableRef(model_layer(dbt_resource_props), table_name(dbt_resource_props)))

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "source":
            return str(dbt_resource_props["source_name"])
        return model_layer(dbt_resource_props).value

    def get_metadata(self, dbt_resource_props: Mapping[str, Any]) -> Mapping[str, Any]:
        metadata = super().get_metadata(dbt_resource_props)
        path = dbt_resource_props.get("original_file_path")
        if not path:
            return metadata
        return {**metadata, **code_reference(environment.DBT_PROJECT_DIR / path)}

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> AssetSpec:
        memo = (id(manifest), unique_id, id(project))
        spec = self._specs.get(memo)
        if spec is None:
            spec = super().get_asset_spec(manifest, unique_id, project)
            deps = [
                AssetDep(_published(d.asset_key, spec.key), partition_mapping=d.partition_mapping)
                for d in spec.deps
            ]
            if any(d.asset_key != old.asset_key for d, old in zip(deps, spec.deps, strict=True)):
                spec = spec.replace_attributes(deps=deps)
            self._specs[memo] = spec
            self.unique_ids[spec.key] = unique_id
        return spec

    def get_asset_check_spec(
        self,
        asset_spec: AssetSpec,
        manifest: Mapping[str, Any],
        unique_id: str,
        project: DbtProject | None,
    ) -> AssetCheckSpec | None:
        check = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if check is None:
            return None
        extra = [AssetDep(_published(d.asset_key, asset_spec.key)) for d in check.additional_deps]
        return check._replace(additional_deps=extra)


def _published(dep: AssetKey, consumer: AssetKey) -> AssetKey:
    """Across layers a model reads the canonical view, so it depends on the publish asset."""
    if dep.path[-1] == SHADOW and dep.path[0] != consumer.path[0]:
        return AssetKey(dep.path[:-1])
    return dep


@cache
def translator() -> SpyneTranslator:
    """The one translator every layer shares (its spec cache is the point)."""
    return SpyneTranslator()


@dataclass(frozen=True)
class LayerSpecs:
    """A dbt layer's model specs (shadow assets) and the dbt tests on them, as checks."""

    assets: tuple[AssetSpec, ...]
    checks: tuple[AssetCheckSpec, ...]

    @property
    def refs(self) -> list[TableRef]:
        return sorted(ref_for_key(spec.key) for spec in self.assets)


@cache
def _dbt_specs() -> Mapping[Layer, LayerSpecs]:
    """Every model's spec and the checks of its tests, through the translator, split by layer.

    What @dbt_assets derives, minus dbt's selection engine: Spyne takes every model, and building
    dbt's graph to select "all" costs more than the rest of the derivation at a thousand models.
    """
    m, t, project = manifest(), translator(), dbt_project()
    child_map: Mapping[str, Sequence[str]] = m["child_map"]
    assets: dict[Layer, list[AssetSpec]] = defaultdict(list)
    checks: dict[Layer, dict[AssetCheckKey, AssetCheckSpec]] = defaultdict(dict)
    for unique_id, node in m["nodes"].items():
        if not is_table_model(node):
            continue
        spec = t.get_asset_spec(m, unique_id, project)
        layer = model_layer(node)
        assets[layer].append(spec)
        for child in child_map.get(unique_id, ()):
            if child.startswith("test."):
                check = t.get_asset_check_spec(spec, m, child, project)
                if check is not None:
                    checks[layer][check.key] = check
    return {
        layer: LayerSpecs(tuple(assets[layer]), tuple(checks[layer].values()))
        for layer in DBT_LAYERS
    }


def layer_specs(layer: Layer) -> LayerSpecs:
    return _dbt_specs()[layer]


def model_spec(ref: TableRef) -> AssetSpec:
    key = shadow_key(ref)
    for spec in layer_specs(ref.layer).assets:
        if spec.key == key:
            return spec
    raise KeyError(ref.canonical)


def upstream_tables(ref: TableRef) -> list[TableRef]:
    """The tables a model reads through their canonical views (its cross-layer dependencies)."""
    out = []
    for dep in model_spec(ref).deps:
        if dep.asset_key.path[-1] == SHADOW:
            continue
        try:
            out.append(ref_for_key(dep.asset_key))
        except SpyneError:  # a dbt source outside Spyne's layers
            continue
    return sorted(set(out))
