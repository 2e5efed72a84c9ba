"""Source drift against the registered contracts: on the sample ERP in a real PostgreSQL source
(its information schema only, types parsed as PostgreSQL spells them), and on the DuckDB file
through the drift sensor: a WARNING accepted with `spyne drift accept`, a BREAKING change that
blocks publishing every table built from the source until a new major contract version."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
from dagster import DagsterInstance, build_sensor_context
from typer.testing import CliRunner

from orchestration.assets.project import SOURCE_SYSTEM, bronze_tables
from orchestration.identity import Actor
from orchestration.lifecycle.source_blocks import source_block_decision, upstream_sources
from orchestration.runtime import runtime
from orchestration.sample.generator import generate, generate_postgres
from orchestration.sensors.definitions import spyne_source_drift
from orchestration.sensors.source_drift import check_sources, contract_schemas
from orchestration.sources import PostgresSource
from orchestration.sources.postgres import connection
from orchestration.sources.schema import source_columns
from policies.contracts import parse_contract
from policies.drift import DriftSeverity
from policies.modes import SystemMode
from policies.naming import Layer, TableRef
from policies.roles import Role
from tests.pg import PgRoles

PARTNERS = TableRef(Layer.BRONZE, "res_partner")


@pytest.mark.postgres
def test_a_postgres_source_against_its_contracts(installed_home: Path, pg_roles: PgRoles) -> None:
    rt = runtime()
    source = PostgresSource(pg_roles.owner_url)
    generate_postgres(source, lines=30, seed=3)
    bronze = bronze_tables()
    expected = contract_schemas(rt.catalog, rt.warehouse.dialect, bronze)
    assert expected["res_partner"].origin == "contract erp_res_partner 1.0.0"
    checks = check_sources(rt.warehouse, source, bronze, expected, SOURCE_SYSTEM)
    assert {c.source: c.severity for c in checks} == {
        f"erp.{b.source_table}": DriftSeverity.NONE for b in bronze
    }

    with connection(source) as con, con.cursor() as cur:
        cur.execute("ALTER TABLE res_partner ALTER COLUMN customer_rank TYPE bigint")
        cur.execute("ALTER TABLE res_partner ADD COLUMN fax varchar(32)")
        cur.execute("ALTER TABLE sale_order RENAME COLUMN partner_id TO customer_id")
    live = source_columns(rt.warehouse, source, ["res_partner"])
    assert ("fax", "character varying(32)") in [(c.name, c.data_type) for c in live["res_partner"]]
    by_source = {
        c.source: c for c in check_sources(rt.warehouse, source, bronze, expected, SOURCE_SYSTEM)
    }
    partners = by_source["erp.res_partner"].report
    assert partners is not None and partners.severity == DriftSeverity.ADDITIVE
    assert {c.describe() for c in partners.changes if c.severity > DriftSeverity.NONE} == {
        "column customer_rank widened from integer to bigint",
        "column fax added (character varying(32))",
    }
    assert by_source["erp.sale_order"].severity == DriftSeverity.BREAKING
    assert by_source["erp.sale_order"].contract == ("erp_sale_order", "1.0.0")


@pytest.fixture
def site(installed_home: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    rt = runtime()
    admin, _ = rt.catalog.create_principal("ada", Role.ADMIN, "test")
    service, key = rt.catalog.create_principal("dagster", Role.ENGINEER, "ada")
    _, eve = rt.catalog.create_principal("eve", Role.ENGINEER, "ada")
    monkeypatch.setenv("SPYNE_SERVICE_KEY", key)
    rt.catalog.set_mode(SystemMode.INGESTION_READY, "ada")
    generate(rt.source_path, lines=30)
    return {"rt": rt, "admin": Actor(admin), "runner": Actor(service, "schedule:test"), "eve": eve}


def source_sql(site: dict[str, Any], sql: str) -> None:
    with duckdb.connect(str(site["rt"].source_path)) as con:
        con.execute(sql)


def tick(instance: DagsterInstance) -> str:
    return str(spyne_source_drift(build_sensor_context(instance=instance)).skip_message)


def open_drift(site: dict[str, Any]) -> list[Any]:
    return [
        n for n in site["rt"].catalog.notifications.all(open_only=True) if n.kind.value == "drift"
    ]


def test_warning_is_accepted_and_breaking_blocks_every_table_built_from_the_source(
    site: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestration.cli import app

    rt, instance = site["rt"], DagsterInstance.ephemeral()
    svc = rt.service()
    info, _ = svc.ingest(site["runner"], PARTNERS, rt.source_path, "res_partner", None)
    rt.catalog.record_gate(PARTNERS.canonical, info.version, "passed", actor="dagster")
    svc.promote(site["admin"], PARTNERS.canonical, info.version)

    # WARNING (INTEGER -> DOUBLE): the owner is told; nothing changes until someone accepts it
    source_sql(site, "ALTER TABLE res_partner ALTER COLUMN customer_rank TYPE DOUBLE")
    assert '"erp.res_partner": "WARNING"' in tick(instance)
    (alert,) = open_drift(site)
    report = alert.details["drift_report"]
    assert alert.severity.label == "warning" and alert.details["owner"] == "crm-data@example.com"
    assert f"`spyne drift accept {report}`" in alert.details["what_to_do"]
    assert rt.catalog.contracts.get("erp_res_partner").version == "1.0.0"
    runner = CliRunner()
    monkeypatch.setenv("SPYNE_API_KEY", site["eve"])
    result = runner.invoke(app, ["drift", "accept", str(report), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["version"] == "1.1.0"
    accepted = rt.catalog.contracts.get("erp_res_partner")
    assert accepted.registered_by == "eve"
    rank = parse_contract(dict(accepted.document), "x").column("customer_rank")
    assert rank.physical_type == "double"
    assert open_drift(site) == [] and rt.catalog.source_drift.open() == {}
    again = runner.invoke(app, ["drift", "accept", str(report), "--json"])  # nothing new
    assert again.exit_code == 0 and json.loads(again.output)["version"] == "1.1.0"
    assert len(rt.catalog.contracts.versions("erp_res_partner")) == 2
    missing = runner.invoke(app, ["drift", "accept", "999"])
    assert missing.exit_code == 1 and "[not_found]" in missing.output
    assert "0 drifted" in tick(instance)

    # BREAKING (a column removed): bronze and every model built from the source are refused
    source_sql(site, "ALTER TABLE res_partner DROP COLUMN country_code")
    assert '"erp.res_partner": "BREAKING"' in tick(instance)
    refused = runner.invoke(
        app, ["drift", "accept", str(open_drift(site)[0].details["drift_report"])]
    )
    assert refused.exit_code == 1 and "new major version" in refused.output
    from orchestration.assets.project import manifest

    assert "erp.res_partner" in upstream_sources("gold.customer_revenue", manifest())
    assert upstream_sources("silver.products", manifest()) == ["erp.product_product"]
    for table in ("bronze.res_partner", "silver.customers", "gold.customer_revenue"):
        decision = source_block_decision(rt.catalog, table, 2)
        assert not decision.allowed, table
        assert "column country_code removed" in decision.message
        assert "register erp_res_partner 2.0.0" in decision.message
    assert source_block_decision(rt.catalog, "silver.products", 2).allowed

    # a new major version describing the source lifts the block; the sensor then agrees
    document = dict(accepted.document)
    document["version"] = "2.0.0"
    schema = dict(document["schema"][0])
    schema["properties"] = [p for p in schema["properties"] if p["name"] != "country_code"]
    document["schema"] = [schema]
    rt.catalog.contracts.register(parse_contract(document, "v2"), "ada", None, source="test")
    assert source_block_decision(rt.catalog, "gold.customer_revenue", 2).allowed
    assert "0 drifted" in tick(instance)
    assert open_drift(site) == []
