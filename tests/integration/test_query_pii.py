"""PII end to end on the sample ERP: partners' emails and phones are found by their values
(high confidence) and redacted in results; names alone queue a column for review; decisions
are kept; an admin's approval lets values through; raw values never reach the catalog."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestration.cli import app
from orchestration.identity import Actor
from orchestration.query.service import QueryService
from orchestration.runtime import Runtime, build_runtime
from orchestration.sample.generator import generate
from policies.modes import SystemMode
from policies.naming import Layer, TableRef
from policies.roles import Role

PARTNERS = TableRef(Layer.BRONZE, "res_partner")
SQL = "SELECT id, name, email, lower(email) AS mail, phone, count(*) OVER () AS n FROM bronze.res_partner ORDER BY id LIMIT 20"


@pytest.fixture
def erp(installed_home: Path) -> Iterator[tuple[Runtime, Actor, Actor, dict[str, str]]]:
    rt = build_runtime()
    admin, admin_key = rt.catalog.create_principal("ada", Role.ADMIN, created_by="test")
    analyst, analyst_key = rt.catalog.create_principal("ana", Role.ANALYST, created_by="ada")
    rt.catalog.set_mode(SystemMode.INGESTION_READY, "ada")
    generate(rt.source_path, lines=200, seed=3)
    svc = rt.service()
    info, _ = svc.ingest(Actor(admin), PARTNERS, rt.source_path, "res_partner", None)
    rt.catalog.record_gate(PARTNERS.canonical, info.version, "passed", {}, actor="ada")
    svc.promote(Actor(admin), PARTNERS.canonical, info.version)
    yield rt, Actor(admin), Actor(analyst), {"admin": admin_key, "analyst": analyst_key}
    rt.catalog.dispose()


def test_emails_and_phones_are_redacted(erp: tuple[Runtime, Actor, Actor, dict[str, str]]) -> None:
    rt, admin, analyst, _ = erp
    q = QueryService(rt)
    preview = q.preview(analyst, SQL)
    assert preview.data["redacted_columns"] == {"email": "email", "mail": "email", "phone": "phone"}
    result = q.execute(analyst, preview.info.id)
    index = {c: i for i, c in enumerate(result.columns)}
    emails = {row[index["email"]] for row in result.rows}
    assert emails <= {"[REDACTED:email]", None} and "[REDACTED:email]" in emails
    assert {row[index["phone"]] for row in result.rows} <= {"[REDACTED:phone]", None}
    assert all(
        isinstance(row[index["name"]], str) and "REDACTED" not in row[index["name"]]
        for row in result.rows
    )
    findings = {c.column: c for c in rt.catalog.pii.columns(PARTNERS.canonical)}
    assert (findings["email"].tier.value, findings["phone"].tier.value) == ("high", "high")
    # counting personal data is not revealing it
    counted = q.preview(analyst, "SELECT count(email) AS with_email FROM bronze.res_partner")
    assert counted.data["redacted_columns"] == {}
    # values never reach the catalog: not in previews, findings or the audit
    stored = json.dumps(
        [e.details for e in rt.catalog.list_audit(limit=500)]
        + [preview.info.payload, [c.__dict__ for c in findings.values()]],
        default=str,
    )
    raw = q.execute(
        admin,
        q.preview(
            admin, "SELECT email FROM bronze.res_partner WHERE email IS NOT NULL LIMIT 1"
        ).info.id,
    )
    assert raw.rows[0][0] == "[REDACTED:email]"  # admins too, unless the query is approved
    approved = q.preview(
        analyst, "SELECT email FROM bronze.res_partner WHERE email IS NOT NULL ORDER BY id LIMIT 1"
    )
    q.approve(admin, approved.info.id, "support ticket 7")
    value = q.execute(analyst, approved.info.id).rows[0][0]
    assert "@" in str(value) and str(value) not in stored


def test_review_queue_and_decisions_are_kept(
    erp: tuple[Runtime, Actor, Actor, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    rt, _, analyst, keys = erp
    q = QueryService(rt)
    q.preview(analyst, SQL)
    runner = CliRunner()
    monkeypatch.setenv("SPYNE_API_KEY", keys["analyst"])
    listed = json.loads(runner.invoke(app, ["pii", "list", "--json"]).stdout)
    by_column = {r["column"]: r for r in listed}
    assert by_column["email"]["tier"] == "high" and by_column["email"]["status"] == "detected"
    refused = runner.invoke(app, ["pii", "reject", "bronze.res_partner.phone"])
    assert refused.exit_code == 1 and "permission_denied" in refused.output
    monkeypatch.setenv("SPYNE_API_KEY", keys["admin"])
    assert runner.invoke(app, ["pii", "reject", "bronze.res_partner.phone"]).exit_code == 0
    assert runner.invoke(app, ["pii", "confirm", "--all-high"]).exit_code == 0
    statuses = {c.column: c.status.value for c in rt.catalog.pii.columns(PARTNERS.canonical)}
    assert statuses["phone"] == "rejected" and statuses["email"] == "confirmed"
    again = q.preview(analyst, SQL)  # a new preview scans nothing again and asks nothing again
    assert again.data["redacted_columns"] == {"email": "email", "mail": "email"}
    assert [e.action for e in rt.catalog.list_audit(limit=50)].count("pii_reject") == 1
