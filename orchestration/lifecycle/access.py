"""The one check every write path makes: identity, role and system mode, refusals audited."""

from __future__ import annotations

from orchestration.catalog import Catalog
from orchestration.identity import Actor
from policies.access import AccessFacts, decide_access
from policies.decisions import Decision, refusal
from policies.roles import Operation


class Access:
    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def decide(self, actor: Actor, operation: Operation, target: str) -> Decision:
        mode = self._catalog.current_mode().mode
        return decide_access(AccessFacts(operation, actor.role, mode, target))

    def require(self, actor: Actor, operation: Operation, target: str) -> None:
        """Refuse (and audit the refusal) unless the actor may do ``operation`` now."""
        decision = self.decide(actor, operation, target)
        if not decision.allowed:
            self.refuse(actor, operation.value, target, decision)

    def refuse(self, actor: Actor, action: str, target: str, decision: Decision) -> None:
        err = refusal(decision)
        self._catalog.audit(actor.name, action, target, "refused", err.to_dict(), actor.launched_by)
        raise err
