"""Who a Dagster run acts as: the person who launched it with `spyne`, or the service principal.

- ``spyne`` launches a run with a grant (:mod:`orchestration.catalog.run_grants`): a secret
  in the run's tags that the catalog binds to that run id and that person. The run acts as
  the person; a copied or stale grant is refused, never downgraded.
- A run from a schedule, a sensor or the UI acts as the code location's service principal,
  whose key the deployment puts in ``SPYNE_SERVICE_KEY``; the audit names the schedule or
  sensor that launched it.
- Anything else has no identity and refuses at its first step.
"""

from __future__ import annotations

from collections.abc import Mapping

from orchestration.catalog import Catalog, PrincipalInfo
from orchestration.identity import Actor
from policies.errors import AuthenticationRequired

GRANT_TAG = "spyne/launch_grant"
LAUNCHED_BY_TAG = "spyne/launched_by"
SERVICE_KEY_ENV = "SPYNE_SERVICE_KEY"
_SCHEDULE_TAG = "dagster/schedule_name"
_SENSOR_TAG = "dagster/sensor_name"


def launch_tags(catalog: Catalog, principal: PrincipalInfo, run_id: str) -> dict[str, str]:
    """Tags for a run a person launches through `spyne`: who, and the proof of it."""
    return {
        GRANT_TAG: catalog.grant_run(principal, run_id),
        LAUNCHED_BY_TAG: principal.name,
    }


def run_actor(
    catalog: Catalog, run_id: str, tags: Mapping[str, str], environ: Mapping[str, str]
) -> Actor:
    token = tags.get(GRANT_TAG)
    if token:
        person = catalog.resolve_run_grant(token, run_id)
        return Actor(person, launched_by=person.name)
    key = (environ.get(SERVICE_KEY_ENV) or "").strip()
    if not key:
        raise AuthenticationRequired(
            f"run {run_id} has no identity: launch it with `spyne` (it acts as you), or give the "
            f"code location its service principal's key in {SERVICE_KEY_ENV} for runs from the "
            "UI and schedules (an admin creates it: `spyne auth create-key dagster --role engineer`)",
            details={"run_id": run_id, "variable": SERVICE_KEY_ENV},
        )
    service = catalog.authenticate(key)
    if tags.get(_SCHEDULE_TAG):
        launched_by = f"schedule:{tags[_SCHEDULE_TAG]}"
    elif tags.get(_SENSOR_TAG):
        launched_by = f"sensor:{tags[_SENSOR_TAG]}"
    else:
        launched_by = "dagster"
    return Actor(service, launched_by=launched_by)
