"""This process's environment: where the repository's parts are, and validated settings.

The rules for what a valid environment is live in ``policies.settings``; this module only
reads ``os.environ`` and hands it over.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from policies.errors import StorageUnavailable
from policies.settings import SpyneSettings, settings_from_mapping

REPO_ROOT = Path(__file__).resolve().parent.parent
# Another dbt project (and its suites) can be used without copying it into the repository.
DBT_PROJECT_DIR = Path(os.environ.get("SPYNE_DBT_PROJECT_DIR") or REPO_ROOT / "dbt_project")
EXPECTATIONS_DIR = Path(os.environ.get("SPYNE_EXPECTATIONS_DIR") or REPO_ROOT / "expectations")
POLICY_DEFAULTS_DIR = REPO_ROOT / "policies" / "defaults"
DEFAULT_HOME = REPO_ROOT / ".spyne"


def load_settings(environ: Mapping[str, str] | None = None) -> SpyneSettings:
    """Settings for this process; raises ConfigError naming the bad variable."""
    return settings_from_mapping(os.environ if environ is None else environ, str(DEFAULT_HOME))


def ensure_home(s: SpyneSettings) -> Path:
    """SPYNE_HOME and Dagster's home inside it, readable by their owner only."""
    home = Path(s.home)
    try:
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        Path(s.dagster_home).mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageUnavailable(
            f"cannot create {exc.filename or home}: {exc.strerror}; set SPYNE_HOME to a folder "
            "this user can write",
            details={"path": str(exc.filename or home), "error": exc.strerror},
        ) from None
    return home
