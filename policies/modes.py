"""System modes: READ_ONLY by default; only INGESTION_READY lets new data in.

READ_ONLY means nothing new enters the warehouse or becomes canonical: no ingestion, no
build, no publish (automatic or by hand), no janitor drops. The way back stays open in
every mode: rollback, deprecate and restore only bring back what was already canonical,
and an admin must be able to use them while the system is frozen.
"""

from __future__ import annotations

from enum import StrEnum

from policies.decisions import Decision
from policies.errors import ModeRefused
from policies.roles import Operation

DEFAULT_MODE = "READ_ONLY"


class SystemMode(StrEnum):
    READ_ONLY = "READ_ONLY"
    INGESTION_READY = "INGESTION_READY"

    @classmethod
    def parse(cls, value: str) -> SystemMode:
        try:
            return cls(value.strip().upper())
        except ValueError:
            allowed = ", ".join(m.value for m in cls)
            raise ModeRefused(
                f"unknown system mode {value!r}; modes are: {allowed}", details={"mode": value}
            ) from None


# Operations that write new data or make it canonical; everything else runs in any mode.
NEEDS_INGESTION_READY: frozenset[Operation] = frozenset(
    {
        Operation.INGEST,
        Operation.BUILD,
        Operation.AUTO_PUBLISH,
        Operation.PROMOTE,
        Operation.RUN_JANITOR,
        Operation.REPLAY_INGEST,
    }
)


def decide_mode(mode: SystemMode, operation: Operation) -> Decision:
    if operation not in NEEDS_INGESTION_READY or mode == SystemMode.INGESTION_READY:
        return Decision.allow()
    return Decision.block(
        "system_mode",
        f"{operation.value} is refused while the system mode is {mode.value}; an admin can "
        "run `spyne mode set INGESTION_READY`",
        operation=operation.value,
        mode=mode.value,
        required_mode=SystemMode.INGESTION_READY.value,
    )
