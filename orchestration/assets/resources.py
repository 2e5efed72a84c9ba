"""The Dagster resource that hands asset bodies the catalog, warehouse and services."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from dagster import (
    AssetCheckExecutionContext,
    AssetExecutionContext,
    ConfigurableResource,
    Failure,
    OpExecutionContext,
)

from orchestration.runtime import Runtime, runtime
from policies.errors import SpyneError

if TYPE_CHECKING:
    from orchestration.identity import Actor


class SpyneResource(ConfigurableResource):  # type: ignore[type-arg]
    """Settings come from the environment (SPYNE_ENV, SPYNE_HOME, ...), validated at first use."""

    def runtime(self) -> Runtime:
        try:
            return runtime()
        except SpyneError as err:
            raise as_failure(err) from err

    def actor(
        self, context: OpExecutionContext | AssetExecutionContext | AssetCheckExecutionContext
    ) -> Actor:
        """Who this run acts as (refused with a clear failure when nobody); interrupted acts
        are settled before the step does anything."""
        from orchestration.run_identity import run_actor

        rt = self.runtime()
        try:
            run = context.run
            actor = run_actor(rt.catalog, run.run_id, run.tags, os.environ)
            rt.service().settle(actor.name)
        except SpyneError as err:
            raise as_failure(err) from err
        return actor


def as_failure(err: SpyneError) -> Failure:
    """Show a refusal in Dagster as a failed step whose description is the actionable sentence."""
    return Failure(
        description=f"[{err.code}] {err.message}",
        metadata={"code": err.code, **{k: str(v) for k, v in err.details.items()}},
    )
