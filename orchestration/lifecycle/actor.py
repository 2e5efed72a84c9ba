"""Who acts: a principal with a role, and who launched the command or run it acts in."""

from __future__ import annotations

from dataclasses import dataclass

from orchestration.catalog import PrincipalInfo
from policies.roles import Role


@dataclass(frozen=True)
class Actor:
    """The principal whose role is checked, and (for runs) the person or schedule that started it.

    A person at the CLI acts as themself (``launched_by`` None). A run launched by ``spyne``
    acts as the person who launched it; a run from a schedule or the UI acts as the code
    location's service principal, ``launched_by`` naming the schedule or the UI. The audit
    records both.
    """

    principal: PrincipalInfo
    launched_by: str | None = None

    @property
    def name(self) -> str:
        return self.principal.name

    @property
    def role(self) -> Role:
        return self.principal.role

    def describe(self) -> str:
        if self.launched_by and self.launched_by != self.name:
            return f"{self.name} (launched by {self.launched_by})"
        return self.name
