"""Long-running child processes (the Dagster UI, the dbt docs site) that stop with their parent.

`exec` would hand the terminal to the child but leave no one to make sure the child's own
children (webserver, daemon, code server) are gone; a child in its own session, receiving
exactly the signal the parent got, shuts itself down in order while the parent waits.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Mapping, Sequence
from types import FrameType


def run_until_signalled(command: Sequence[str], env: Mapping[str, str] | None = None) -> int:
    """Run ``command``; forward SIGINT/SIGTERM to it once each; return its exit code."""
    child = subprocess.Popen(
        list(command), env=dict(env) if env is not None else None, start_new_session=True
    )  # Ctrl-C reaches us only, then we forward it

    def forward(signum: int, _frame: FrameType | None) -> None:
        if child.poll() is None:
            child.send_signal(signum)

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        return child.wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
