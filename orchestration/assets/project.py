"""The dbt project as Dagster sees it: keys and groups derived from dbt folders, never hand-kept lists.

A dbt model in ``models/<layer>/`` is the *build* of a promotable table, so its asset key is
``<layer>/<table>/shadow``; the canonical ``<layer>/<table>`` is the publish asset. Anything a
model reads from another layer is the canonical (published) asset, exactly as ``ref()`` resolves.
Bronze tables are dbt sources of source group ``bronze``; their ``meta.spyne.source`` names the
READ_ONLY source table they are landed from.

Loading stays close to plain dagster-dbt at any project size: the manifest is parsed once (by
dagster-dbt's own cached reader), dbt selection runs once for the whole project, and every spec
is derived once, inside one shared translator.
"""

from __future__ import annotations

import atexit
import gc
import os
import shutil
import sys
import warnings
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckKey,
    AssetCheckSpec,
    AssetDep,
    AssetKey,
    AssetSpec,
    BetaWarning,
    CodeReferencesMetadataValue,
    LocalFileCodeReference,
)
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtProject
from dagster_dbt.dbt_manifest import validate_manifest

from orchestration import environment
from orchestration.runtime import export_dbt_env
from policies.errors import SpyneError
from policies.naming import Layer, TableRef, parse_layer

SHADOW = "shadow"
SOURCE_SYSTEM = "erp"
# Layers built by dbt, in build order; bronze is landed by Spyne's ingestion.
DBT_LAYERS: tuple[Layer, ...] = tuple(layer for layer in Layer if layer != Layer.BRONZE)


def _settings_target() -> str:
    s = environment.load_settings()
    export_dbt_env(s)
    # Runs read SPYNE_HOME through SpyneResource's EnvVar; a code server started without it
    # still resolves the same default home as the CLI.
    os.environ.setdefault("SPYNE_HOME", s.home)
    return s.dbt_target


def dbt_executable() -> str:
    """The dbt installed with this environment (the venv), so PATH does not decide which dbt runs."""
    import dbt

    # <env>/lib/pythonX.Y/site-packages/dbt/__init__.py -> <env>/bin/dbt, however Python was started
    installed = Path(dbt.__file__).resolve().parents[4] / "bin" / "dbt"
    for candidate in (
        Path(sys.prefix) / "bin" / "dbt",
        Path(sys.executable).parent / "dbt",
        installed,
    ):
        if candidate.exists():
            return str(candidate)
    return shutil.which("dbt") or "dbt"


def _put_dbt_on_path() -> None:
    """dagster-dbt's own helpers (e.g. `dagster dev`'s project preparer) run a bare `dbt`.

    Whatever started this process (a code server may start without the virtualenv on PATH),
    that `dbt` must be this environment's.
    """
    bin_dir = str(Path(dbt_executable()).parent)
    path = os.environ.get("PATH", "")
    if bin_dir not in path.split(os.pathsep):
        os.environ["PATH"] = f"{bin_dir}{os.pathsep}{path}"


@cache
def dbt_project() -> DbtProject:
    """The dbt project at SPYNE_DBT_PROJECT_DIR (default: the repository's dbt_project/)."""
    _put_dbt_on_path()
    project_dir = environment.DBT_PROJECT_DIR
    project = DbtProject(
        project_dir=project_dir, profiles_dir=project_dir, target=_settings_target()
    )
    project.prepare_if_dev()
    if not project.manifest_path.exists():
        project.preparer.prepare(project)
    return project


@cache
def manifest() -> Mapping[str, Any]:
    """The parsed manifest, shared with dagster-dbt's own reader (parsed once per process).

    It holds millions of containers, none of them garbage, for the life of the process: the
    collector is paused while it is parsed and the result frozen out of its reach, so full
    collections stop traversing it again and again while Dagster builds the definitions
    (about a second of a thousand-model load).
    """
    gc.disable()
    try:
        parsed = validate_manifest(dbt_project().manifest_path)
    finally:
        gc.enable()
    freeze_for_process_lifetime()
    return parsed


def freeze_for_process_lifetime() -> None:
    """Move every object alive now out of the collector's reach, until the process exits.

    At exit they are handed back, so that extension objects (DuckDB's) are released in order.
    """
    gc.freeze()
    if not _UNFREEZE_AT_EXIT:
        atexit.register(gc.unfreeze)
        _UNFREEZE_AT_EXIT.append(True)


_UNFREEZE_AT_EXIT: list[bool] = []


def shadow_key(ref: TableRef) -> AssetKey:
    return AssetKey([ref.layer.value, ref.name, SHADOW])


def published_key(ref: TableRef) -> AssetKey:
    return AssetKey([ref.layer.value, ref.name])


def ref_for_key(key: AssetKey) -> TableRef:
    path = key.path[:-1] if key.path[-1] == SHADOW else key.path
    return TableRef(parse_layer(path[0]), path[1])


def model_layer(props: Mapping[str, Any]) -> Layer:
    """The folder under models/ decides the layer (fqn = [project, layer, ..., name])."""
    return parse_layer(props["fqn"][1])


def is_table_model(props: Mapping[str, Any]) -> bool:
    """A dbt model that is a promotable table (every model except ephemeral ones)."""
    return (
        props["resource_type"] == "model"
        and (props.get("config") or {}).get("materialized") != "ephemeral"
    )


def code_reference(path: Path | str, line: int | None = None) -> dict[str, Any]:
    """Where an asset is defined, for the UI; put on a spec when it is made, never copied after."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BetaWarning)  # code references are beta in Dagster
        return {
            "dagster/code_references": CodeReferencesMetadataValue(
                code_references=[LocalFileCodeReference(file_path=str(path), line_number=line)]
            )
        }


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
        return shadow_key(TableRef(model_layer(dbt_resource_props), dbt_resource_props["name"]))

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


@dataclass(frozen=True)
class BronzeTable:
    ref: TableRef
    source_table: str  # table name in the READ_ONLY source
    description: str

    @property
    def source_key(self) -> AssetKey:
        return AssetKey([SOURCE_SYSTEM, self.source_table])


def bronze_tables(m: Mapping[str, Any] | None = None) -> list[BronzeTable]:
    m = manifest() if m is None else m
    out = []
    for source in m["sources"].values():
        if source["source_name"] != Layer.BRONZE.value:
            continue
        origin = str(
            ((source.get("meta") or {}).get("spyne") or {}).get(
                "source", f"{SOURCE_SYSTEM}.{source['name']}"
            )
        )
        out.append(
            BronzeTable(
                TableRef(Layer.BRONZE, source["name"]),
                origin.split(".")[-1],
                source.get("description") or "",
            )
        )
    return sorted(out, key=lambda b: b.ref)


def model_refs(layer: Layer, m: Mapping[str, Any] | None = None) -> list[TableRef]:
    if m is None:
        return layer_specs(layer).refs if layer in DBT_LAYERS else []
    return sorted(
        TableRef(layer, node["name"])
        for node in m["nodes"].values()
        if is_table_model(node) and model_layer(node) == layer
    )


def tables_in(layer: Layer) -> list[TableRef]:
    return [t.ref for t in bronze_tables()] if layer == Layer.BRONZE else model_refs(layer)


def gated_tables() -> list[TableRef]:
    """Every promotable table, layer by layer in build order: what gets a suite and a gate."""
    return [ref for layer in Layer for ref in tables_in(layer)]


def node_for(ref: TableRef, m: Mapping[str, Any] | None = None) -> dict[str, Any]:
    m = manifest() if m is None else m
    if ref.layer == Layer.BRONZE:
        for source in m["sources"].values():
            if source["source_name"] == Layer.BRONZE.value and source["name"] == ref.name:
                return dict(source)
    for node in m["nodes"].values():
        if (
            node["resource_type"] == "model"
            and node["name"] == ref.name
            and model_layer(node) == ref.layer
        ):
            return dict(node)
    raise KeyError(ref.canonical)


def tests_for(unique_id: str, m: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    m = manifest() if m is None else m
    # Tests on models name them in attached_node; tests on sources only in depends_on.nodes.
    out = []
    for child in m["child_map"].get(unique_id, ()):
        n = m["nodes"].get(child)
        if n is None or n["resource_type"] != "test":
            continue
        attached = n.get("attached_node")
        if attached == unique_id or (
            attached is None and (n.get("depends_on") or {}).get("nodes") == [unique_id]
        ):
            out.append(dict(n))
    return out
