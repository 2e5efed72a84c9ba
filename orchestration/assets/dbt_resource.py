"""dagster-dbt's CLI resource, without two start-up costs Spyne never uses.

Each run gets a fresh resource, and dagster-dbt's then (1) runs `dbt --version` in a
subprocess to learn the version of the dbt it will run (about 3.5 s here), and (2) loads the
dbt project and adapter in-process, only so that it could fetch row counts or columns later.
Spyne runs the dbt installed with this environment (`dbt_executable`), so its version is
this environment's dbt-core; and it records each version's rows and columns itself, from the
version table, where dbt's adapter would read the canonical view.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from dagster_dbt import DbtCliResource
from packaging import version


class SpyneDbtCliResource(DbtCliResource):
    @cached_property
    def _cli_version(self) -> version.Version:
        from dbt.version import __version__

        return version.parse(__version__)

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> Any:
        return None
