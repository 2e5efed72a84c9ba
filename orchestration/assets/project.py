"""The dbt project as Dagster sees it: keys and groups derived from dbt folders, never hand-kept lists.

A dbt model in ``models/<layer>/`` is the *build* of a promotable table, so its asset key is
``<layer>/<table>/shadow``; the canonical ``<layer>/<table>`` is the publish asset. Anything a
model reads from another layer is the canonical (published) asset, exactly as ``ref()`` resolves.
Bronze tables are dbt sources of source group ``bronze``; their ``meta.spyne.source`` names the
READ_ONLY source table they are landed from.

The manifest is parsed once per process (by dagster-dbt's own cached reader), kept out of the
garbage collector's way; the specs derived from it are in :mod:`orchestration.assets.specs`.
"""

from __future__ import annotations

import atexit
import gc
import os
import shutil
import sys
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from dagster import AssetKey, BetaWarning, CodeReferencesMetadataValue, LocalFileCodeReference
from dagster_dbt import DbtProject
from dagster_dbt.dbt_manifest import validate_manifest

from orchestration import environment
from orchestration.runtime import export_dbt_env
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
    """The parsed manifest, shared with dagster-dbt's own reader (parsed once per process)."""
    with kept_for_process_lifetime():
        return validate_manifest(dbt_project().manifest_path)


@contextmanager
def kept_for_process_lifetime() -> Iterator[None]:
    """Build objects that live as long as the process without the garbage collector watching.

    The manifest and the definitions are millions of containers, none of them garbage. With the
    collector running, each full collection walks all of them again while they grow (more time
    than parsing the manifest itself); paused while they are built, then frozen out of its reach,
    they cost nothing more. Frozen objects are never collected, which is the point, except for
    DuckDB's when it was imported first (the CLI, tests): its bindings report uncollected objects
    at exit as leaks, so those processes hand everything back to the collector at exit (a full
    collection there costs about a second at a thousand models; the code server never pays it).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if "duckdb" in sys.modules and not _UNFREEZE_AT_EXIT:
            atexit.register(gc.unfreeze)
            _UNFREEZE_AT_EXIT.append(True)
        if was_enabled:
            gc.enable()


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


def table_name(props: Mapping[str, Any]) -> str:
    """A model's table: its name, or for a dbt model version its relation (``<name>_v<N>``)."""
    return str(props.get("alias") or props["name"])


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
        from orchestration.assets.specs import layer_specs

        return layer_specs(layer).refs if layer in DBT_LAYERS else []
    return sorted(
        TableRef(layer, table_name(node))
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
            and table_name(node) == ref.name
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
