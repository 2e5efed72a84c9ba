"""The alert policy of an install: shipped defaults, overridden by ``$SPYNE_HOME/policies/alerts.yaml``."""

from __future__ import annotations

from pathlib import Path

from orchestration.environment import POLICY_DEFAULTS_DIR
from orchestration.runtime import _read_yaml
from policies.alerts import AlertPolicy
from policies.errors import ConfigError

POLICY_FILE = "alerts.yaml"


def load_alert_policy(home: Path) -> AlertPolicy:
    """Channels and delivery settings merge over the defaults; routes and defaults replace them."""
    data = _read_yaml(POLICY_DEFAULTS_DIR / POLICY_FILE) or {}
    override = home / "policies" / POLICY_FILE
    if override.exists():
        extra = _read_yaml(override) or {}
        if not isinstance(extra, dict):
            raise ConfigError(f"{override} must be a mapping", details={"path": str(override)})
        data = {
            **data,
            **extra,
            "channels": {**(data.get("channels") or {}), **(extra.get("channels") or {})},
            "delivery": {**(data.get("delivery") or {}), **(extra.get("delivery") or {})},
        }
    return AlertPolicy.from_mapping(data)
