"""The code location's service principal, as every sensor acts."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from policies.errors import AuthenticationRequired

if TYPE_CHECKING:
    from orchestration.catalog import Catalog
    from orchestration.identity import Actor


def sensor_actor(catalog: Catalog, sensor: str, environ: Mapping[str, str] | None = None) -> Actor:
    """The service principal, launched by ``sensor:<name>``; refused (typed) without its key."""
    from orchestration.identity import Actor
    from orchestration.run_identity import SERVICE_KEY_ENV

    env = os.environ if environ is None else environ
    key = (env.get(SERVICE_KEY_ENV) or "").strip()
    if not key:
        raise AuthenticationRequired(
            f"the {sensor} sensor acts as the code location's service principal: set "
            f"{SERVICE_KEY_ENV} (an admin creates it: `spyne auth create-key dagster --role "
            "engineer`)",
            details={"variable": SERVICE_KEY_ENV, "sensor": sensor},
        )
    return Actor(catalog.authenticate(key), f"sensor:{sensor}")
