"""Contract files: read one (YAML, an ODCS v3 document), validate it by the policy, register it.

The shipped contracts of the sample ERP live in ``contracts/erp/`` (one ``<table>.odcs.yaml`` per
source table); ``spyne init`` registers them, ``spyne contracts register FILE`` registers any.
A refused registration is audited with its typed error and leaves the registry unchanged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from orchestration.catalog import AuditOutcome, Catalog
from orchestration.catalog.contracts import REGISTER_ACTION, Registration
from orchestration.environment import REPO_ROOT
from policies.contracts import Contract, parse_contract
from policies.errors import ContractInvalid, ContractVersionConflict, NotFound, SpyneError

CONTRACTS_DIR = Path(os.environ.get("SPYNE_CONTRACTS_DIR") or REPO_ROOT / "contracts" / "erp")
INIT_ACTOR = "spyne-init"  # who registers the shipped contracts during `spyne init`


def contract_files(directory: Path | None = None) -> list[Path]:
    return sorted((directory or CONTRACTS_DIR).glob("*.odcs.yaml"))


def load_contract(path: Path) -> Contract:
    """The validated contract in ``path``; typed refusals for a missing file or bad YAML."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFound(
            f"contract file {path} does not exist; give the path of an ODCS YAML file",
            details={"path": str(path)},
        ) from None
    except OSError as exc:
        raise ContractInvalid(
            f"contract file {path} cannot be read ({exc.strerror})", details={"path": str(path)}
        ) from exc
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ContractInvalid(
            f"contract {path}: the file is not valid YAML{where}; fix the YAML syntax",
            details={"path": str(path), "field": "document", "fix": "fix the YAML syntax"},
        ) from None
    return parse_contract(document, str(path))


def register_file(
    catalog: Catalog, actor: str, path: Path, launched_by: str | None = None
) -> Registration:
    """Validate and register one file (the caller has checked the role); refusals audited."""
    try:
        contract = load_contract(path)
        return catalog.contracts.register(contract, actor, launched_by, source=str(path))
    except SpyneError as err:
        catalog.audit(
            actor, REGISTER_ACTION, f"file:{path}", AuditOutcome.REFUSED, err.to_dict(), launched_by
        )
        raise


@dataclass(frozen=True)
class ShippedReport:
    registered: list[str]  # "id version" newly registered
    unchanged: list[str]
    kept: list[str]  # the catalog holds another version: left as it is, with the reason


def register_shipped(catalog: Catalog, directory: Path | None = None) -> ShippedReport:
    """Register the shipped contracts (``spyne init``); never overrides what the catalog holds.

    A shipped contract the catalog already holds in a newer or different version is kept as the
    catalog has it (an engineer registered that one on purpose) and reported, not refused.
    """
    registered: list[str] = []
    unchanged: list[str] = []
    kept: list[str] = []
    for path in contract_files(directory):
        try:
            result = register_file(catalog, INIT_ACTOR, path)
        except ContractVersionConflict as err:
            kept.append(f"{path.name}: {err.message}")
            continue
        label = f"{result.version.contract_id} {result.version.version}"
        (registered if result.outcome.value == "register" else unchanged).append(label)
    return ShippedReport(registered, unchanged, kept)
