"""The Dagster resource that hands asset bodies the catalog, warehouse and services."""

from __future__ import annotations

from dagster import ConfigurableResource, Failure

from orchestration.runtime import Runtime, runtime
from policies.errors import SpyneError


class SpyneResource(ConfigurableResource):  # type: ignore[type-arg]
    """Settings come from the environment (SPYNE_ENV, SPYNE_HOME, ...), validated at first use."""

    def runtime(self) -> Runtime:
        return runtime()


def as_failure(err: SpyneError) -> Failure:
    """Show a refusal in Dagster as a failed step whose description is the actionable sentence."""
    return Failure(
        description=f"[{err.code}] {err.message}",
        metadata={"code": err.code, **{k: str(v) for k, v in err.details.items()}},
    )
