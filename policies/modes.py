"""System modes: READ_ONLY by default; only INGESTION_READY lets data in."""

from __future__ import annotations

from enum import StrEnum

from policies.decisions import Decision
from policies.errors import ModeRefused

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


def decide_ingestion(mode: SystemMode) -> Decision:
    if mode == SystemMode.INGESTION_READY:
        return Decision.allow()
    return Decision.block(
        "system_mode",
        "ingestion is refused while the system mode is READ_ONLY; an admin can run "
        "`spyne mode set INGESTION_READY`",
        mode=mode.value,
        required_mode=SystemMode.INGESTION_READY.value,
    )


def require_ingestion(mode: SystemMode) -> None:
    decide_ingestion(mode).raise_unless_allowed(ModeRefused)
