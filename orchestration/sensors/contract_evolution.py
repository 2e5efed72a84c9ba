"""A contract that follows its source: the next minor version, registered as someone, audited.

ADDITIVE drift is taken in by the drift sensor as the service principal; WARNING drift by an
engineer or admin with `spyne drift accept REPORT_ID`. The new document comes from
:func:`policies.source_drift.evolve_contract`; registering it is the ordinary registration (one
catalog transaction with its audit entry, refused like any other when it conflicts). The
version records the report it follows (:func:`policies.source_drift.drift_origin`); the report
is resolved last, after its alert is closed, so an acceptance killed at any instant is finished by
the same command run again, which never registers a second version for one report.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from policies.alerts import AlertKind
from policies.drift import DriftSeverity
from policies.errors import ApprovalRequired, NotFound
from policies.roles import Operation
from policies.source_drift import drift_origin, evolve_contract, taken_in_by

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
        contract, actor.name, actor.launched_by, source=drift_origin(report_id)
    )
    return registration.version.version


def accept(rt: Runtime, actor: Actor, alerts: Alerts, report_id: int) -> tuple[SourceCheck, str]:
    """Take an open WARNING (or ADDITIVE) drift report into its contract, checked again now.

    A report already taken in answers the version that took it in (finishing what is left open)."""
    from orchestration.sensors.source_drift import check_install

    rt.require(actor, Operation.CREATE_CONTRACT, f"drift:{report_id}")
    report = rt.catalog.source_drift.get(report_id)
    held_to = (report.report.get("contract") or [None])[0] if report is not None else None
    done = (
        taken_in_by(
            report_id, [(v.version, v.source) for v in rt.catalog.contracts.versions(held_to)]
        )
        if held_to is not None
        else None
    )
    if report is None or (report.resolved and done is None):
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
    contract_id = check.contract[0]
    if done is not None:  # taken in by an acceptance that may not have got to finish
        if not report.resolved:
            _finish(rt, actor, alerts, report.source, contract_id, done)
        return check, done
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
    _finish(rt, actor, alerts, report.source, contract_id, version)
    return check, version


def _finish(
    rt: Runtime, actor: Actor, alerts: Alerts, source: str, contract_id: str, version: str
) -> None:
    """Close the accepted report's alert, then the report itself (the mark of work left)."""
    reason = f"accepted by {actor.name}: contract {contract_id} {version} follows the source"
    alerts.clear(AlertKind.DRIFT, source, reason)
    rt.catalog.source_drift.resolve(source, actor.name, reason, actor.launched_by)
