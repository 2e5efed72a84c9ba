"""The catalog (control plane): tables, versions, states, principals, system mode, intents, audit.

Use :class:`Catalog`; it hands back frozen snapshots and performs every state change in one
locked transaction. The schema comes only from the Alembic migrations in ``migrations/``
(``spyne init``), which also make the audit trail append-only inside the database.
"""

from orchestration.catalog.audit import ChainVerdict
from orchestration.catalog.control_tables import AuditOutcome
from orchestration.catalog.dead_letters import NewDeadLetter
from orchestration.catalog.engine import database_url
from orchestration.catalog.facade import Catalog
from orchestration.catalog.principals import API_KEY_PREFIX, hash_api_key
from orchestration.catalog.schema import alembic_config
from orchestration.catalog.snapshots import (
    AuditEntry,
    DeadLetterInfo,
    IntentInfo,
    IntentStatus,
    ModeInfo,
    PrincipalInfo,
    StateChange,
    TableInfo,
    VersionInfo,
)
from orchestration.catalog.transitions import TransitionTx
from policies.publish import GateStatus

__all__ = [
    "API_KEY_PREFIX",
    "AuditEntry",
    "AuditOutcome",
    "Catalog",
    "ChainVerdict",
    "DeadLetterInfo",
    "GateStatus",
    "IntentInfo",
    "IntentStatus",
    "ModeInfo",
    "NewDeadLetter",
    "PrincipalInfo",
    "StateChange",
    "TableInfo",
    "TransitionTx",
    "VersionInfo",
    "alembic_config",
    "database_url",
    "hash_api_key",
]
