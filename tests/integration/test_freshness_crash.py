"""kill -9 inside the freshness sensor's alerting, at every instant of a raise, an escalation
(late -> breach: close, then raise) and a clearing: the killed tick's cursor is never saved, so
the next tick judges the same evaluation again, and finds the alerts, their deliveries and the
audit log agreeing: the late warning and the breach are each opened once and paged once, the
warning closed before the breach, the breach closed when fresh events land.

Kills follow one another without a tick in between (each from the cursor of the last finished
tick), so every instant is reached whatever the killed ticks before it committed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from dagster import instance_for_test

from orchestration.catalog import notifications as notifications_module
from orchestration.catalog.notifications import Notifications
from tests.integration.sensor_kills import Instant, assert_alerts_agree, audit_action, kill_at
from tests.integration.test_freshness_sensor import (
    Clock,
    add_partner,
    freshness_alerts,
    land,
    newest_in_source,
    site,
)

__all__ = ["site"]

RAISE = [
    Instant(
        "inside the alert's raise", notifications_module, "append", audit_action("alert_opened")
    ),
    Instant("alert raised", Notifications, "raise_alert"),
]
CLOSE = [
    Instant(
        "inside the alert's close", notifications_module, "append", audit_action("alert_closed")
    ),
    Instant("alert closed", Notifications, "close", lambda a, r: r is not None),
]


def statuses(site: dict[str, Any], open_only: bool = False) -> list[tuple[str, bool]]:
    return [
        (str(n.details["status"]), n.open)
        for n in sorted(freshness_alerts(site["rt"].catalog, open_only), key=lambda n: n.id)
    ]


@pytest.mark.slow
def test_kill_9_inside_freshness_alerts_then_the_next_tick(site: dict[str, Any]) -> None:
    rt = site["rt"]
    land(site, first=True)
    newest = newest_in_source(site)
    with instance_for_test() as instance:
        clock = Clock(instance)
        clock.settle(newest + timedelta(hours=1))
        assert statuses(site) == []

        def killed_ticks(at: Any, instants: list[Instant]) -> None:
            clock.tick(at)  # launches the due check; its verdict is read by the next tick
            before = clock.cursor
            for instant in instants:
                kill_at(instant, lambda: clock.tick(at), rt.catalog.dispose)
                assert clock.cursor == before  # a killed tick saves no cursor
            clock.tick(at)  # the next tick

        # late: the warning is raised
        killed_ticks(newest + timedelta(days=15), RAISE)
        assert statuses(site) == [("LATE", True)]
        assert_alerts_agree(rt.catalog, rt.home)

        # past max_lag: the warning is closed, then the breach raised
        killed_ticks(newest + timedelta(days=31), CLOSE + RAISE)
        assert statuses(site) == [("LATE", False), ("BREACH", True)]
        assert_alerts_agree(rt.catalog, rt.home)
        clock.settle(newest + timedelta(days=32))
        assert statuses(site) == [("LATE", False), ("BREACH", True)]  # not paged again

        # fresh events land: the breach is closed
        now = newest + timedelta(days=34)
        add_partner(site, 900_002, now - timedelta(hours=2))
        land(site)
        killed_ticks(now, CLOSE)
        assert statuses(site) == [("LATE", False), ("BREACH", False)]
        assert_alerts_agree(rt.catalog, rt.home)
        assert clock.runs == 4
