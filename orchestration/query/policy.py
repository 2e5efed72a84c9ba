"""The query policy for this install: shipped defaults, overridden by the install's own file.

Reading it needs no catalog and no warehouse, so `spyne query validate` works with no platform
state at all.
"""

from __future__ import annotations

import logging
from pathlib import Path

from orchestration.environment import POLICY_DEFAULTS_DIR, load_settings
from orchestration.runtime import _read_yaml
from policies.errors import ConfigError
from policies.sql_safety import SafetyPolicy

QUERY_POLICY_FILE = "query.yaml"


def load_query_policy(home: Path | None = None) -> SafetyPolicy:
    """Defaults beside the policy code, overridden key by key by $SPYNE_HOME/policies/query.yaml."""
    data = _read_yaml(POLICY_DEFAULTS_DIR / QUERY_POLICY_FILE) or {}
    home = Path(load_settings().home) if home is None else home
    override = home / "policies" / QUERY_POLICY_FILE
    if override.exists():
        extra = _read_yaml(override) or {}
        if not isinstance(extra, dict):
            raise ConfigError(f"{override} must be a mapping", details={"path": str(override)})
        data = {**data, **extra}
    return SafetyPolicy.from_mapping(data)


def quiet_parser() -> None:
    """sqlglot logs a warning for each statement it keeps as an opaque command; the gate blocks
    those with its own message, so the warning would only repeat the user's SQL on stderr."""
    logging.getLogger("sqlglot").setLevel(logging.ERROR)
