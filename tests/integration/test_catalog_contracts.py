"""The contract registry in the catalog (both backends): versions registered whole, the same
content again a no-op, changed content only under a higher version, history never rewritten."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from orchestration.catalog import Catalog
from orchestration.ingestion.contracts import contract_files, register_shipped
from policies.contract_versions import RegistrationOutcome
from policies.contracts import Contract, parse_contract
from policies.errors import ContractVersionConflict, NotFound

SHIPPED = contract_files()


def _document(name: str = "sale_order") -> dict[str, Any]:
    path = next(p for p in SHIPPED if p.name == f"{name}.odcs.yaml")
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _contract(doc: dict[str, Any], **semantics: Any) -> Contract:
    doc = copy.deepcopy(doc)
    doc["customProperties"][0]["value"].update(semantics)
    return parse_contract(doc, "test")


def _count(raw: sa.Engine) -> int:
    with raw.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM contract_versions")).scalar_one())


def test_register_same_again_then_a_new_version(catalog: Catalog, raw: sa.Engine) -> None:
    doc = _document()
    first = catalog.contracts.register(_contract(doc), "eng", source="sale_order.odcs.yaml")
    assert first.outcome is RegistrationOutcome.REGISTER
    again = catalog.contracts.register(_contract(doc), "eng")
    assert again.outcome is RegistrationOutcome.UNCHANGED
    assert again.version == first.version
    assert [e.action for e in catalog.list_audit()] == ["register_contract"]

    with pytest.raises(ContractVersionConflict, match="already registered with other content"):
        catalog.contracts.register(_contract(doc, dedupe_window="12h"), "eng")
    assert _count(raw) == 1

    doc["version"] = "1.1.0"
    second = catalog.contracts.register(_contract(doc, dedupe_window="12h"), "eng", "schedule:x")
    assert second.outcome is RegistrationOutcome.REGISTER
    assert [v.version for v in catalog.contracts.versions("erp_sale_order")] == ["1.0.0", "1.1.0"]
    assert catalog.contracts.get("erp_sale_order").version == "1.1.0"
    assert catalog.contracts.get("erp_sale_order", "1.0.0").summary["dedupe_window_s"] == 86400
    entry = catalog.list_audit(action="register_contract")[0]
    assert entry.target == "contract:erp_sale_order" and entry.launched_by == "schedule:x"
    assert entry.details["previous"] == "1.0.0" and entry.details["version"] == "1.1.0"
    assert catalog.verify_audit().ok


def test_breaking_change_needs_a_major_version(catalog: Catalog) -> None:
    doc = _document()
    catalog.contracts.register(_contract(doc), "eng")
    doc["version"] = "1.1.0"
    with pytest.raises(ContractVersionConflict, match=r"breaks version 1\.0\.0.*2\.0\.0"):
        catalog.contracts.register(_contract(doc, mode="append", dedupe_window="24h"), "eng")
    doc["version"] = "2.0.0"
    done = catalog.contracts.register(_contract(doc, mode="append"), "eng")
    assert done.breaking and "mode" in done.breaking[0]
    assert catalog.contracts.get("erp_sale_order").mode == "append"


def test_list_get_and_missing(catalog: Catalog) -> None:
    report = register_shipped(catalog)
    assert len(report.registered) == len(SHIPPED) == 6 and not report.kept
    latest = catalog.contracts.latest()
    assert {i.table for i in latest} == {p.name.split(".")[0] for p in SHIPPED}
    assert {i.mode for i in latest} == {"append", "upsert"}
    assert register_shipped(catalog).unchanged == report.registered
    with pytest.raises(NotFound, match="no contract 'nope' is registered"):
        catalog.contracts.get("nope")
    with pytest.raises(NotFound, match=r"has no version 9\.9\.9"):
        catalog.contracts.get("erp_res_partner", "9.9.9")


def test_registered_versions_are_never_rewritten(catalog: Catalog, raw: sa.Engine) -> None:
    catalog.contracts.register(_contract(_document()), "eng")
    for statement in (
        "UPDATE contract_versions SET mode = 'append'",
        "UPDATE contract_versions SET document = '{}'",
        "DELETE FROM contract_versions",
    ):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), raw.begin() as conn:
            conn.execute(sa.text(statement))
    assert catalog.contracts.get("erp_sale_order").mode == "upsert"


def test_shipped_contracts_are_kept_when_the_catalog_holds_a_newer_version(
    catalog: Catalog, tmp_path: Path
) -> None:
    doc = _document("res_partner")
    doc["version"] = "1.5.0"
    catalog.contracts.register(_contract(doc, dedupe_window="1h"), "eng")
    report = register_shipped(catalog)
    assert len(report.kept) == 1 and "res_partner" in report.kept[0]
    assert catalog.contracts.get("erp_res_partner").version == "1.5.0"
