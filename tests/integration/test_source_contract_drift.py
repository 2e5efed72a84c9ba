"""Source drift against the registered contracts, on the sample ERP in a real PostgreSQL source:
its information schema only (no row read), types parsed as PostgreSQL spells them."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestration.assets.project import SOURCE_SYSTEM, bronze_tables
from orchestration.runtime import runtime
from orchestration.sample.generator import generate_postgres
from orchestration.sensors.source_drift import check_sources, contract_schemas
from orchestration.sources import PostgresSource
from orchestration.sources.postgres import connection
from orchestration.sources.schema import source_columns
from policies.drift import DriftSeverity
from tests.pg import PgRoles

pytestmark = pytest.mark.postgres


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
