"""The Dagster resource that hands asset bodies the catalog, warehouse and services."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import TYPE_CHECKING

from dagster import (
    AssetCheckExecutionContext,
    AssetExecutionContext,
    ConfigurableResource,
    EnvVar,
    Failure,
    OpExecutionContext,
)
from pydantic import Field

from policies.errors import SpyneError

if TYPE_CHECKING:
    from orchestration.identity import Actor
    from orchestration.runtime import Runtime
    from policies.settings import SpyneSettings


class SpyneResource(ConfigurableResource):  # type: ignore[type-arg]
    """Which Spyne environment a run acts in: the same settings the CLI reads.

    Both fields show in the UI (Deployment > Resources); other paths default under ``home``
    exactly as for the CLI (SPYNE_WAREHOUSE_PATH, SPYNE_CATALOG_URL, ... override them).
    """

    env: str = Field(description="SPYNE_ENV: local, ci or prod.")
    home: str = Field(description="SPYNE_HOME: where the warehouse, catalog and logs live.")

    @classmethod
    def from_environment(cls) -> SpyneResource:
        """Read at run time, so a run always acts in the environment of the process running it."""
        return cls(env=EnvVar("SPYNE_ENV"), home=EnvVar("SPYNE_HOME"))

    def runtime(self) -> Runtime:
        from orchestration.environment import load_settings
        from orchestration.runtime import runtime

        try:
            current = runtime()
            wanted = load_settings({**os.environ, "SPYNE_ENV": self.env, "SPYNE_HOME": self.home})
            return current if wanted == current.settings else _runtime_for(wanted)
        except SpyneError as err:
            raise as_failure(err) from err

    def actor(
        self, context: OpExecutionContext | AssetExecutionContext | AssetCheckExecutionContext
    ) -> Actor:
        """Who this run acts as (a refusal naming what to do when nobody); acts an earlier run
        left interrupted are settled before the step does anything."""
        from orchestration.run_identity import run_actor

        rt = self.runtime()
        try:
            run = context.run
            actor = run_actor(rt.catalog, run.run_id, run.tags, os.environ)
            rt.service().settle(actor.name)
        except SpyneError as err:
            raise as_failure(err) from err
        return actor


@lru_cache(maxsize=2)
def _runtime_for(settings: SpyneSettings) -> Runtime:
    """A resource configured apart from the process environment (e.g. edited in the launchpad)."""
    from orchestration.runtime import build_runtime

    return build_runtime(settings)


def as_failure(err: SpyneError) -> Failure:
    """Show a refusal in Dagster as a failed step whose description is the actionable sentence,
    headed by its failure class; only a retryable class lets the step's retry policy retry it."""
    from orchestration.runs.retries import classified_failure

    return classified_failure(err)
