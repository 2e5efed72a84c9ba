"""What the janitor may drop: old physical versions, once their rollback window is over.

Dropping is the one irreversible step in the version life, so the rule is narrow:
never the ACTIVE version, never the newest version (it may be about to be published),
and never anything that was active, or was built, within the retention window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from policies.errors import ValidationFailed
from policies.naming import checked_version


def _require_aware(value: datetime, what: str) -> None:
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValidationFailed(
            f"{what} must be a timezone-aware datetime (e.g. in UTC), got naive {value.isoformat()}",
            details={"field": what, "value": value.isoformat()},
        )


@dataclass(frozen=True)
class RetainedVersion:
    version: int
    created_at: datetime
    last_active_at: datetime | None
    is_active: bool

    def __post_init__(self) -> None:
        checked_version(self.version)
        _require_aware(self.created_at, "created_at")
        if self.last_active_at is not None:
            _require_aware(self.last_active_at, "last_active_at")

    @property
    def anchor(self) -> datetime:
        """When the rollback window starts: last served by the view, else built."""
        return self.last_active_at or self.created_at


def _check_window(now: datetime, retention: timedelta) -> None:
    _require_aware(now, "now")
    if retention < timedelta(0):
        raise ValidationFailed(
            f"retention must not be negative, got {retention}",
            details={"field": "retention", "value": str(retention)},
        )


def is_retained(version: RetainedVersion, now: datetime, retention: timedelta) -> bool:
    """True while ``version`` is ACTIVE or still inside its rollback window."""
    _check_window(now, retention)
    return version.is_active or version.anchor + retention > now


def versions_to_drop(
    versions: Sequence[RetainedVersion], *, now: datetime, retention: timedelta
) -> tuple[int, ...]:
    """Version numbers the janitor may drop, ascending; refuses incoherent input."""
    _check_window(now, retention)
    seen: set[int] = set()
    for v in versions:
        if v.version in seen:
            raise ValidationFailed(
                f"version {v.version} is listed twice; the janitor drops nothing until the "
                "catalog is consistent",
                details={"field": "version", "value": v.version},
            )
        seen.add(v.version)
    active = [v.version for v in versions if v.is_active]
    if len(active) > 1:
        raise ValidationFailed(
            f"versions {sorted(active)} are all marked active; the janitor drops nothing "
            "until the catalog is consistent",
            details={"field": "is_active", "active_versions": sorted(active)},
        )
    if not versions:
        return ()
    newest = max(seen)
    return tuple(
        sorted(
            v.version
            for v in versions
            if v.version != newest and not is_retained(v, now, retention)
        )
    )
