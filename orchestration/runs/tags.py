"""Tags Spyne's runs carry: which organisation a run works for, and where a requeued run came from.

The run queue limits how many runs of one organisation run at once (a tag concurrency limit per
unique value of ``spyne/org``, see :mod:`orchestration.dagster_instance`). A code location serves
one organisation, named by ``SPYNE_ORG`` in its environment; every job carries it as a tag, so
runs from schedules, sensors, the UI and ``spyne`` all queue under it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from policies.errors import ConfigError

ORG_TAG = "spyne/org"
ORG_ENV = "SPYNE_ORG"
DEFAULT_ORG = "default"
FAILURE_CLASS_TAG = "spyne/failure_class"
REQUEUED_FROM_TAG = "spyne/requeued_from"
_ORG = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")


def org_name(environ: Mapping[str, str] | None = None) -> str:
    """The organisation this code location works for; refused when it is not a plain name."""
    raw = (environ if environ is not None else os.environ).get(ORG_ENV, "").strip()
    name = raw.lower() or DEFAULT_ORG
    if not _ORG.match(name):
        raise ConfigError(
            f"{ORG_ENV}={raw!r} is not an organisation name: use lowercase letters, digits, "
            "'.', '_' or '-' (at most 63), e.g. acme",
            details={"variable": ORG_ENV, "value": raw},
        )
    return name


def job_tags(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Tags every Spyne job gives its runs."""
    return {ORG_TAG: org_name(environ)}
