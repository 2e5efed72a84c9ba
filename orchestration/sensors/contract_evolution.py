"""A contract that follows its source: the next minor version, registered as someone, audited.

ADDITIVE drift is taken in by the drift sensor as the service principal; WARNING drift by an
engineer or admin with `spyne drift accept REPORT_ID`. The new document comes from
:func:`policies.source_drift.evolve_contract`; registering it is the ordinary registration (one
catalog transaction with its audit entry, refused like any other when it conflicts).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from policies.alerts import AlertKind
from policies.drift import DriftSeverity
from policies.errors import ApprovalRequired, NotFound
from policies.roles import Operation
from policies.source_drift import evolve_contract

if TYPE_CHECKING:
    from orchestration.alerts.service import Alerts
    from orchestration.identity import Actor
    from orchestration.runtime import Runtime
    from orchestration.sensors.source_drift import SourceCheck

ACCEPT_ACTION = "accept_drift"


def register_following(rt: Runtime, actor: Actor, check: SourceCheck, report_id: int) -> str:
    """Register the contract's next minor version describing the source as it is; its version."""
    from policies.contracts import parse_contract

    assert check.contract is not None and check.report is not None
    contract_id, version = check.contract
    rt.require(actor, Operation.CREATE_CONTRACT, f"contract:{contract_id}")
    info = rt.catalog.contracts.get(contract_id, version)
    document = evolve_contract(info.document, check.report.changes, check.live, check.live_dialect)
    contract = parse_contract(document, f"{contract_id} following source {check.source}")
    registration = rt.catalog.contracts.register(
        contract, actor.name, actor.launched_by, source=f"drift report #{report_id}"
    )
    return registration.version.version


def accept(rt: Runtime, actor: Actor, alerts: Alerts, report_id: int) -> tuple[SourceCheck, str]:
    """Take an open WARNING (or ADDITIVE) drift report into its contract, checked again now."""
    from orchestration.sensors.source_drift import check_install

    rt.require(actor, Operation.CREATE_CONTRACT, f"drift:{report_id}")
    report = next((r for r in rt.catalog.source_drift.open_reports() if r.id == report_id), None)
    if report is None:
        open_ids = ", ".join(str(r.id) for r in rt.catalog.source_drift.open_reports()) or "none"
        raise NotFound(
            f"drift report {report_id} is not open (open reports: {open_ids}); see "
            "`spyne alerts list --open`",
            details={"report": report_id},
        )
    check = next((c for c in check_install(rt) if c.source == report.source), None)
    if check is None or check.report is None or check.contract is None:
        raise NotFound(
            f"source {report.source} is not held to a registered contract any more",
            details={"report": report_id, "source": report.source},
        )
    if check.severity == DriftSeverity.NONE:
        raise NotFound(
            f"source {report.source} agrees with contract {' '.join(check.contract)} again: "
            "nothing to accept",
            details={"report": report_id, "source": report.source},
        )
    if check.severity == DriftSeverity.BREAKING:
        raise ApprovalRequired(
            f"source {report.source} now breaks contract {' '.join(check.contract)} "
            f"({check.report.summary()}); a breaking change is not accepted as a minor version: "
            "register a new major version of the contract describing the source, or put the "
            "source back",
            details={"report": report_id, "source": report.source, "severity": "BREAKING"},
        )
    version = register_following(rt, actor, check, report_id)
    rt.catalog.source_drift.resolve(report.source)
    alerts.clear(
        AlertKind.DRIFT,
        report.source,
        f"accepted by {actor.name}: contract {check.contract[0]} {version} follows the source",
    )
    return check, version
