"""Raise, clear and deliver alerts as one principal: what every sensor and command calls.

Raising routes the alert by the policy, opens its condition in the catalog (deduplicated,
audited) and, when it is new, delivers it at once; every call also retries deliveries that
failed earlier and are due. Clearing closes the condition (audited). Delivery failures are kept,
never raised: alerting must not take down what it reports on.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from orchestration.alerts.delivery import Outcome, deliver_due
from orchestration.catalog import Catalog
from orchestration.catalog.notifications import NewAlert, NotificationInfo, Raised
from policies.alerts import AlertKind, AlertPolicy, condition_key, route


@dataclass
class Alerts:
    catalog: Catalog
    policy: AlertPolicy
    home: Path
    actor: str
    launched_by: str | None = None
    environ: Mapping[str, str] | None = None
    sleep: Callable[[float], None] = field(default=time.sleep)
    clock: Callable[[], float] = field(default=time.monotonic)

    def raise_alert(self, alert: NewAlert) -> Raised:
        channels = route(self.policy, alert.kind, alert.severity)
        raised = self.catalog.notifications.raise_alert(
            alert, channels, self.actor, self.launched_by
        )
        self.deliver()
        return raised

    def clear(self, kind: AlertKind, subject: str, reason: str) -> NotificationInfo | None:
        return self.catalog.notifications.close(
            condition_key(kind, subject), self.actor, reason, self.launched_by
        )

    def deliver(self) -> list[Outcome]:
        return deliver_due(
            self.catalog,
            self.policy,
            self.home,
            environ=self.environ,
            sleep=self.sleep,
            clock=self.clock,
        )


def alerts_for(catalog: Catalog, home: Path, actor: str, launched_by: str | None) -> Alerts:
    from orchestration.alerts.routing import load_alert_policy

    return Alerts(catalog, load_alert_policy(home), home, actor, launched_by)
