"""The dbt project as Dagster sees it: keys and groups derived from dbt folders, never hand-kept lists.

A dbt model in ``models/<layer>/`` is the *build* of a promotable table, so its asset key is
``<layer>/<table>/shadow``; the canonical ``<layer>/<table>`` is the publish asset. Anything a
model reads from another layer is the canonical (published) asset, exactly as ``ref()`` resolves.
Bronze tables are dbt sources of source group ``bronze``; their ``meta.spyne.source`` names the
READ_ONLY source table they are landed from.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from dagster import AssetCheckSpec, AssetDep, AssetKey, AssetSpec
from dagster_dbt import DagsterDbtTranslator, DbtProject

from orchestration.environment import DBT_PROJECT_DIR, load_settings
from orchestration.runtime import export_dbt_env
from policies.naming import Layer, TableRef, parse_layer

SHADOW = "shadow"
SOURCE_SYSTEM = "erp"


def _settings_target() -> str:
    s = load_settings()
    export_dbt_env(s)
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


@lru_cache(maxsize=1)
def dbt_project() -> DbtProject:
    _put_dbt_on_path()
    project = DbtProject(
        project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR, target=_settings_target()
    )
    project.prepare_if_dev()
    if not project.manifest_path.exists():
        project.preparer.prepare(project)
    return project


@lru_cache(maxsize=1)
def manifest() -> dict[str, Any]:
    return json.loads(dbt_project().manifest_path.read_text())


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
    m = manifest() if m is None else m
    refs = [
        TableRef(layer, node["name"])
        for node in m["nodes"].values()
        if node["resource_type"] == "model" and model_layer(node) == layer
    ]
    return sorted(refs)


def node_for(ref: TableRef, m: Mapping[str, Any] | None = None) -> dict[str, Any]:
    m = manifest() if m is None else m
    if ref.layer == Layer.BRONZE:
        for source in m["sources"].values():
            if source["source_name"] == "bronze" and source["name"] == ref.name:
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
    for n in m["nodes"].values():
        if n["resource_type"] != "test":
            continue
        attached = n.get("attached_node")
        if attached == unique_id or (
            attached is None and (n.get("depends_on") or {}).get("nodes") == [unique_id]
        ):
            out.append(dict(n))
    return out


class SpyneTranslator(DagsterDbtTranslator):
    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        return shadow_key(TableRef(model_layer(dbt_resource_props), dbt_resource_props["name"]))

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "source":
            return str(dbt_resource_props["source_name"])
        return model_layer(dbt_resource_props).value

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        deps = [
            AssetDep(_published(dep.asset_key, spec.key), partition_mapping=dep.partition_mapping)
            for dep in spec.deps
        ]
        return spec.replace_attributes(deps=deps)

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
