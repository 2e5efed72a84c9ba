"""The catalog (control plane): tables, versions, states, principals, system mode, audit log.

Use :class:`Catalog`; it hands back frozen snapshots and performs every state change
in one locked transaction. The schema comes only from the Alembic migrations in
``migrations/``, which also make the audit trail append-only inside the database.
"""

from orchestration.catalog.models import AuditOutcome, GateStatus
from orchestration.catalog.store import (
    API_KEY_PREFIX,
    AuditEntry,
    Catalog,
    ModeInfo,
    PrincipalInfo,
    StateChange,
    TableInfo,
    TransitionTx,
    VersionInfo,
    alembic_config,
    database_url,
    hash_api_key,
)

__all__ = [
    "API_KEY_PREFIX",
    "AuditEntry",
    "AuditOutcome",
    "Catalog",
    "GateStatus",
    "ModeInfo",
    "PrincipalInfo",
    "StateChange",
    "TableInfo",
    "TransitionTx",
    "VersionInfo",
    "alembic_config",
    "database_url",
    "hash_api_key",
]
