"""The dbt project on the prod target (BigQuery), without a cloud and without credentials.

``dbt parse`` needs nothing; ``dbt compile`` creates a BigQuery client (no request is sent), so
it runs with a service-account key generated here, passed the way a deployment passes one
(``SPYNE_BQ_KEYFILE_JSON`` or ``SPYNE_BQ_KEYFILE``). The compiled SQL is what BigQuery would
receive: every ``ref()`` of a model names its canonical view in the configured project, every
``ref()`` in a data test names the version being built (``<layer>__shadow.<model>__v<N>``), and
all of it parses in sqlglot's BigQuery dialect. The statement that writes a version is rendered
by a probe model in a copy of the project, in a model's own context, as the materialization
renders it. The DuckDB side of the same macros runs for real in ``test_dbt_models.py``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from sqlglot import exp

from orchestration.assets.project import gated_tables
from orchestration.environment import DBT_PROJECT_DIR
from policies.naming import Layer
from tests.service_account import fake_service_account_key

PROJECT = "spyne-ci"
DBT = str(Path(sys.executable).parent / "dbt")
CREDENTIAL_VARS = (
    "GOOGLE_APPLICATION_CREDENTIALS",
    "SPYNE_BQ_KEYFILE",
    "SPYNE_BQ_KEYFILE_JSON",
    "SPYNE_DBT_VERSIONS",
)


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    """The prod target with no credentials anywhere: no ADC file, no gcloud, no metadata server."""
    env = {k: v for k, v in os.environ.items() if k not in CREDENTIAL_VARS}
    env |= {
        "SPYNE_ENV": "prod",
        "SPYNE_BQ_PROJECT": PROJECT,
        "HOME": str(tmp / "home"),
        "CLOUDSDK_CONFIG": str(tmp / "gcloud"),
        "NO_GCE_CHECK": "True",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    return env | extra


def _dbt(
    tmp: Path, *args: str, project: Path = DBT_PROJECT_DIR, env: Mapping[str, str]
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            DBT,
            *args,
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(project),
            "--target-path",
            str(tmp / "target"),
            "--log-path",
            str(tmp / "logs"),
        ],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _manifest(tmp: Path) -> dict[str, Any]:
    return json.loads((tmp / "target" / "manifest.json").read_text(encoding="utf-8"))


def _models(manifest: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: n for k, n in manifest["nodes"].items() if n["resource_type"] == "model"}


@pytest.fixture(scope="module")
def key_json() -> str:
    return json.dumps(fake_service_account_key(PROJECT))


def test_parse_for_prod_needs_no_credentials(tmp_path: Path) -> None:
    done = _dbt(tmp_path, "parse", "--target", "prod", env=_env(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    manifest = _manifest(tmp_path)
    assert manifest["metadata"]["adapter_type"] == "bigquery"
    models = _models(manifest)
    assert {n["database"] for n in models.values()} == {PROJECT}
    assert {n["schema"] for n in models.values()} == {"silver", "joins", "gold"}
    assert all(n["config"]["materialized"] == "spyne_versioned" for n in models.values())


def test_compiled_sql_names_canonical_views_and_the_versions_tests_gate(
    tmp_path: Path, key_json: str
) -> None:
    versions = {ref.canonical: 7 for ref in gated_tables() if ref.layer != Layer.BRONZE}
    versions["gold.daily_sales"] = 12
    env = _env(tmp_path, SPYNE_BQ_KEYFILE_JSON=key_json, SPYNE_DBT_VERSIONS=json.dumps(versions))
    # --no-populate-cache: listing datasets would be a request; nothing else compiles one.
    done = _dbt(tmp_path, "compile", "--target", "prod", "--no-populate-cache", env=env)
    assert done.returncode == 0, done.stdout + done.stderr

    manifest = _manifest(tmp_path)
    nodes, models = manifest["nodes"], _models(manifest)
    for model in models.values():
        tables = _tables(model["compiled_code"])
        assert tables, model["unique_id"]
        for catalog, dataset, _ in tables:
            assert catalog == PROJECT
            assert not dataset.endswith("__shadow"), model["unique_id"]

    tests = [n for n in nodes.values() if n["resource_type"] == "test"]
    assert tests
    for test in tests:
        tables = set(_tables(test["compiled_code"]))
        for model_id in test["depends_on"]["nodes"]:
            if model_id.startswith("source."):  # bronze, landed by Spyne: its canonical view
                source = manifest["sources"][model_id]
                assert (PROJECT, source["schema"], source["name"]) in tables
                continue
            model = models[model_id]
            name = model["alias"]  # a dbt model version's table is <name>_v<N>
            version = versions[f"{model['schema']}.{name}"]
            shadow = (PROJECT, f"{model['schema']}__shadow", f"{name}__v{version}")
            assert shadow in tables, (test["unique_id"], sorted(tables))
            assert (PROJECT, model["schema"], name) not in tables, test["unique_id"]
    daily = [t for t in tests if "model.spyne.daily_sales" in t["depends_on"]["nodes"]]
    assert daily
    assert all("`gold__shadow`.`daily_sales__v12`" in t["compiled_code"] for t in daily)


def _tables(sql: str) -> list[tuple[str, str, str]]:
    """Every table the statement reads, parsed as BigQuery parses it (a syntax error fails)."""
    statement = sqlglot.parse_one(sql, read="bigquery")
    ctes = {c.alias_or_name for c in statement.find_all(exp.CTE)}
    return [
        (t.catalog, t.db, t.name)
        for t in statement.find_all(exp.Table)
        if not (t.name in ctes and not t.db)
    ]


PROBE_SQL = """
{{ config(grants={'roles/bigquery.dataViewer': ['group:analysts@example.com']},
          partition_by={'field': 'order_date', 'data_type': 'date'},
          cluster_by=['customer_id'], labels={'owner': 'finance'}) }}
{#- What the spyne_versioned materialization sends for version 7, rendered in this model's context -#}
{% if execute -%}
{%- set relation = spyne_version_relation(this.database, this.schema, this.identifier, 7) -%}
{{ spyne_create_version_sql(relation, "select 1 as customer_id, current_date() as order_date") }};
{% if target.type == 'bigquery' -%}
{%- for statement in get_dcl_statement_list(relation, config.get('grants'), get_grant_sql) %}
{{ statement }};
{%- endfor %}
{%- endif %}
{%- endif %}
"""

PROBE_YML = """
version: 2
models:
  - name: probe
    description: "Revenue per customer: one row per customer, it's what finance reads."
    columns:
      - name: customer_id
        description: The customer.
"""


def _probe_project(tmp: Path) -> Path:
    """The project's config, profile and macros, with one probe model in gold."""
    project = tmp / "probe_project"
    (project / "models" / "gold").mkdir(parents=True)
    for name in ("dbt_project.yml", "profiles.yml"):
        shutil.copy(DBT_PROJECT_DIR / name, project / name)
    shutil.copytree(DBT_PROJECT_DIR / "macros", project / "macros")
    (project / "models" / "gold" / "probe.sql").write_text(PROBE_SQL, encoding="utf-8")
    (project / "models" / "gold" / "probe.yml").write_text(PROBE_YML, encoding="utf-8")
    return project


def _compiled_probe(tmp: Path) -> str:
    return (tmp / "target" / "compiled" / "spyne" / "models" / "gold" / "probe.sql").read_text(
        encoding="utf-8"
    )


def test_a_version_is_written_once_on_bigquery_with_its_description_and_grants(
    tmp_path: Path, key_json: str
) -> None:
    project = _probe_project(tmp_path)
    keyfile = tmp_path / "key.json"
    keyfile.write_text(key_json, encoding="utf-8")
    # The key as a file this time (SPYNE_BQ_KEYFILE): the profile picks service-account auth.
    env = _env(tmp_path, SPYNE_BQ_KEYFILE=str(keyfile))
    done = _dbt(
        tmp_path, "compile", "--target", "prod", "--no-populate-cache", project=project, env=env
    )
    assert done.returncode == 0, done.stdout + done.stderr

    create, grant = sqlglot.parse(_compiled_probe(tmp_path), read="bigquery")
    assert isinstance(create, exp.Create) and create.kind == "TABLE"
    assert not create.args.get("replace"), "a version must never replace a table"
    target = create.this
    assert (target.catalog, target.db, target.name) == (PROJECT, "gold__shadow", "probe__v7")
    properties = create.args["properties"].sql("bigquery")
    assert "PARTITION BY order_date" in properties and "CLUSTER BY customer_id" in properties
    assert "description='Revenue per customer: one row per customer, it\\'s what" in properties
    assert "labels=[('owner', 'finance')]" in properties
    assert isinstance(grant, exp.Grant)
    assert grant.sql("bigquery").endswith(
        "ON TABLE `spyne-ci`.`gold__shadow`.`probe__v7` TO `group:analysts@example.com`"
    )


def test_the_same_macro_on_duckdb_is_dbts_create_table_as(tmp_path: Path) -> None:
    project = _probe_project(tmp_path)
    env = _env(tmp_path, SPYNE_ENV="local", SPYNE_WAREHOUSE_PATH=str(tmp_path / "w.duckdb"))
    done = _dbt(tmp_path, "compile", "--target", "local", project=project, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    (create,) = [s for s in sqlglot.parse(_compiled_probe(tmp_path), read="duckdb") if s]
    assert isinstance(create, exp.Create) and not create.args.get("replace")
    target = create.this
    assert (target.catalog, target.db, target.name) == ("w", "gold__shadow", "probe__v7")


def test_a_missing_keyfile_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.json"
    env = _env(
        tmp_path,
        SPYNE_BQ_KEYFILE=str(missing),
        SPYNE_DBT_VERSIONS=json.dumps({"silver.customers": 1}),
    )
    done = _dbt(
        tmp_path,
        "compile",
        "--target",
        "prod",
        "--no-populate-cache",
        "--select",
        "customers",
        env=env,
    )
    assert done.returncode != 0
    assert str(missing) in done.stdout + done.stderr


def test_a_key_that_is_not_json_is_refused_by_name_and_never_echoed(tmp_path: Path) -> None:
    env = _env(
        tmp_path,
        SPYNE_BQ_KEYFILE_JSON="-----BEGIN PRIVATE KEY----- SECRET",
        SPYNE_DBT_VERSIONS=json.dumps({"silver.customers": 1}),
    )
    done = _dbt(
        tmp_path,
        "compile",
        "--target",
        "prod",
        "--no-populate-cache",
        "--select",
        "customers",
        env=env,
    )
    assert done.returncode != 0
    said = done.stdout + done.stderr + (tmp_path / "logs" / "dbt.log").read_text(encoding="utf-8")
    assert "SPYNE_BQ_KEYFILE_JSON is not the JSON of a service-account key" in said
    assert "SECRET" not in said
