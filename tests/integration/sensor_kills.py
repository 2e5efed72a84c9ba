"""Killing a process with SIGKILL at a chosen instant of its work, and what must hold after.

The act runs in a forked child (everything is already imported, so a kill costs milliseconds);
a hook wrapped around a catalog call sends the child SIGKILL to itself right after that call
(or, for ``append``, inside the transaction, after the audit row was written but before the
commit). Nothing runs after the signal: no ``finally``, no rollback, no exit handler.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from orchestration.catalog import Catalog


@dataclass(frozen=True)
class Instant:
    """Kill right after the ``nth`` call of ``owner.name`` (a class or module attribute) for
    which ``when(args, result)`` holds."""

    label: str
    owner: Any
    name: str
    when: Callable[[tuple[Any, ...], Any], bool] = lambda args, result: True
    nth: int = 1


def _arm(instant: Instant) -> None:
    original = getattr(instant.owner, instant.name)
    seen = [0]

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        if instant.when(args, result):
            seen[0] += 1
            if seen[0] == instant.nth:
                os.kill(os.getpid(), signal.SIGKILL)
        return result

    setattr(instant.owner, instant.name, wrapped)


def kill_at(instant: Instant, act: Callable[[], object], dispose: Callable[[], None]) -> None:
    """Run ``act`` in a child killed at ``instant``; fails if the child got past it alive."""
    dispose()  # no pooled connection is shared with the child
    pid = os.fork()
    if pid == 0:  # the child never returns into pytest
        try:
            from orchestration.runtime import _cached

            _cached.cache_clear()
            _arm(instant)
            act()
        finally:
            os._exit(3)
    _, status = os.waitpid(pid, 0)
    if not (os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL):
        pytest.fail(f"{instant.label}: the act never reached its instant (status {status})")


def audit_action(action: str) -> Callable[[tuple[Any, ...], Any], bool]:
    """For ``audit.append(db, session, actor, action, ...)``: only appends of ``action``."""
    return lambda args, result: args[3] == action


def paged(home: Path) -> list[int]:
    """The notification ids the default log channel delivered, one per line written."""
    log = home / "alerts.log"
    lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
    return [int(json.loads(line)["id"]) for line in lines]


def kill_after(seconds: float, act: Callable[[], object], dispose: Callable[[], None]) -> None:
    """Run ``act`` over and over in a child killed after ``seconds``, wherever it then is."""
    dispose()
    pid = os.fork()
    if pid == 0:
        try:
            from orchestration.runtime import _cached

            _cached.cache_clear()
            while True:
                act()
        finally:
            os._exit(3)
    time.sleep(seconds)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


def assert_alerts_agree(catalog: Catalog, home: Path, at_least_once: bool = False) -> None:
    """Every alert was opened and closed with its audit entry, delivered once (at least once
    when a kill may have come between sending and recording it), and the chain holds."""
    alerts = catalog.notifications.all(limit=10_000)
    audit = catalog.list_audit(limit=100_000)
    opened = sorted(int(e.target.split(":")[1]) for e in audit if e.action == "alert_opened")
    closed = sorted(int(e.target.split(":")[1]) for e in audit if e.action == "alert_closed")
    assert opened == sorted(a.id for a in alerts)
    assert closed == sorted(a.id for a in alerts if not a.open)
    if at_least_once:
        assert set(paged(home)) == {a.id for a in alerts}, "each alert paged"
    else:
        assert sorted(paged(home)) == sorted(a.id for a in alerts), "each alert paged exactly once"
    verdict = catalog.verify_audit()
    assert verdict.ok, verdict
