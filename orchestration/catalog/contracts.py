"""The contract registry: every registered version of every ingestion contract, append-only.

A registration is one transaction: the version row and its audit entry are written together or
not at all, so a process killed mid-way leaves either both or neither. Registrations of one
contract are serialised (an advisory lock on PostgreSQL; SQLite writers already queue), so two
people registering at once cannot both pass the "above the newest version" check.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from orchestration.catalog.audit import append, now
from orchestration.catalog.control_tables import AuditOutcome
from orchestration.catalog.engine import Database
from orchestration.catalog.models import ContractVersionRow
from orchestration.jsonable import json_safe
from policies.contract_versions import (
    RegisteredVersion,
    RegistrationOutcome,
    column_facts,
    decide_registration,
)
from policies.contracts import Contract, parse_semver
from policies.errors import NotFound

REGISTER_ACTION = "register_contract"
# pg_advisory_xact_lock keys for contract registrations: this base plus a hash of the contract id.
PG_LOCK_CONTRACTS = 0x5350_1000


@dataclass(frozen=True)
class ContractVersionInfo:
    contract_id: str
    version: str
    name: str
    table: str
    mode: str
    content_hash: str
    document: Mapping[str, Any]
    summary: Mapping[str, Any]
    source: str | None
    registered_at: datetime
    registered_by: str
    launched_by: str | None
    columns: tuple[Mapping[str, Any], ...] = ()  # name, type, required: as registered

    def to_dict(self, with_document: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "contract": self.contract_id,
            "version": self.version,
            "name": self.name,
            "table": self.table,
            "mode": self.mode,
            "content_hash": self.content_hash,
            "summary": dict(self.summary),
            "source": self.source,
            "registered_at": self.registered_at.isoformat(),
            "registered_by": self.registered_by,
            "launched_by": self.launched_by,
        }
        if with_document:
            out["document"] = dict(self.document)
        return out


@dataclass(frozen=True)
class Registration:
    outcome: RegistrationOutcome
    version: ContractVersionInfo
    breaking: tuple[str, ...] = ()


class Contracts:
    def __init__(self, db: Database) -> None:
        self._db = db

    def register(
        self,
        contract: Contract,
        actor: str,
        launched_by: str | None = None,
        source: str | None = None,
    ) -> Registration:
        """Register a validated contract (audited), or find it already registered (no-op)."""
        with self._db.session(write=True) as s:
            self._db.pg_lock(s, PG_LOCK_CONTRACTS + zlib.crc32(contract.id.encode()) % 0xFFFF)
            rows = self._rows(s, contract.id)
            decision = decide_registration(contract, [_registered(r) for r in rows])
            if decision.outcome is RegistrationOutcome.UNCHANGED:
                same = next(r for r in rows if r.version == contract.version)
                return Registration(decision.outcome, _info(same))
            major, minor, patch = parse_semver(contract.version) or (0, 0, 0)
            row = ContractVersionRow(
                contract_id=contract.id,
                version=contract.version,
                major=major,
                minor=minor,
                patch=patch,
                name=contract.name,
                table_name=contract.table,
                mode=contract.semantics.mode.value,
                content_hash=contract.content_hash,
                document=json_safe(dict(contract.document)),
                summary=json_safe(contract.summary()),
                columns=column_facts(contract),
                source=source,
                registered_at=now(),
                registered_by=actor,
                launched_by=launched_by,
            )
            s.add(row)
            s.flush()
            append(
                self._db,
                s,
                actor,
                REGISTER_ACTION,
                f"contract:{contract.id}",
                AuditOutcome.ALLOWED,
                {
                    "version": contract.version,
                    "content_hash": contract.content_hash,
                    "mode": contract.semantics.mode.value,
                    "previous": rows[-1].version if rows else None,
                    "breaking": list(decision.breaking),
                    "warnings": list(contract.warnings),
                    "source": source,
                },
                launched_by,
            )
            return Registration(decision.outcome, _info(row), decision.breaking)

    def latest(self) -> list[ContractVersionInfo]:
        """The newest version of every contract, by id."""
        with self._db.session(write=False) as s:
            rows = s.scalars(
                sa.select(ContractVersionRow).order_by(
                    ContractVersionRow.contract_id,
                    ContractVersionRow.major.desc(),
                    ContractVersionRow.minor.desc(),
                    ContractVersionRow.patch.desc(),
                )
            ).all()
        newest: dict[str, ContractVersionInfo] = {}
        for row in rows:
            newest.setdefault(row.contract_id, _info(row))
        return list(newest.values())

    def versions(self, contract_id: str) -> list[ContractVersionInfo]:
        """Every version of one contract, oldest first; refused when there is none."""
        with self._db.session(write=False) as s:
            rows = self._rows(s, contract_id)
        if not rows:
            raise NotFound(
                f"no contract {contract_id!r} is registered; see `spyne contracts list`, or "
                "register it with `spyne contracts register FILE`",
                details={"contract": contract_id},
            )
        return [_info(r) for r in rows]

    def registered(self, contract_id: str, *versions: str) -> list[RegisteredVersion]:
        """What the registry holds about each of ``versions`` (columns and summary)."""
        with self._db.session(write=False) as s:
            rows = {r.version: r for r in self._rows(s, contract_id)}
            for version in versions:
                if version not in rows:
                    raise NotFound(
                        f"contract {contract_id} has no version {version}; it has "
                        + (", ".join(rows) or "none"),
                        details={"contract": contract_id, "version": version},
                    )
            return [_registered(rows[v]) for v in versions]

    def get(self, contract_id: str, version: str | None = None) -> ContractVersionInfo:
        found = self.versions(contract_id)
        if version is None:
            return found[-1]
        for info in found:
            if info.version == version:
                return info
        raise NotFound(
            f"contract {contract_id} has no version {version}; it has "
            + ", ".join(i.version for i in found),
            details={"contract": contract_id, "version": version},
        )

    @staticmethod
    def _rows(s: Session, contract_id: str) -> list[ContractVersionRow]:
        return list(
            s.scalars(
                sa.select(ContractVersionRow)
                .where(ContractVersionRow.contract_id == contract_id)
                .order_by(
                    ContractVersionRow.major, ContractVersionRow.minor, ContractVersionRow.patch
                )
            ).all()
        )


def _registered(row: ContractVersionRow) -> RegisteredVersion:
    return RegisteredVersion(row.version, row.content_hash, row.summary, row.columns)


def _info(row: ContractVersionRow) -> ContractVersionInfo:
    return ContractVersionInfo(
        contract_id=row.contract_id,
        version=row.version,
        name=row.name,
        table=row.table_name,
        mode=row.mode,
        content_hash=row.content_hash,
        document=row.document,
        summary=row.summary,
        source=row.source,
        registered_at=row.registered_at,
        registered_by=row.registered_by,
        launched_by=row.launched_by,
        columns=tuple(row.columns),
    )
