"""Typed refusals shared by every surface (CLI, Dagster).

Each error has a stable ``code``, a sentence a person can act on, and ``details``
naming the rule, column or role involved. The CLI prints them and exits non-zero; Dagster
shows them as a failed step with the code in its metadata. ``http_status`` is the status an
HTTP surface answers with, ``{"error": {"code", "message", "details"}}`` (``to_dict``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class SpyneError(Exception):
    """Base of every refusal Spyne makes on purpose."""

    code: ClassVar[str] = "spyne_error"
    http_status: ClassVar[int] = 400

    def __init__(self, message: str, *, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


class ConfigError(SpyneError):
    code = "config_invalid"


class ValidationFailed(SpyneError):
    code = "validation_failed"
    http_status = 422


class AuthenticationRequired(SpyneError):
    code = "authentication_required"
    http_status = 401


class PermissionDenied(SpyneError):
    code = "permission_denied"
    http_status = 403


class NotFound(SpyneError):
    code = "not_found"
    http_status = 404


class InvalidTransition(SpyneError):
    code = "invalid_transition"
    http_status = 409


class GateFailed(SpyneError):
    code = "gate_failed"
    http_status = 409


class BreakingDrift(SpyneError):
    code = "breaking_drift"
    http_status = 409


class ModeRefused(SpyneError):
    code = "mode_refused"
    http_status = 409


class ApprovalRequired(SpyneError):
    code = "approval_required"
    http_status = 409


class ConcurrentChange(SpyneError):
    code = "concurrent_change"
    http_status = 409


class NotInitialized(SpyneError):
    """There is no usable install here (no catalog, an empty one, or one at an older schema)."""

    code = "not_initialized"
    http_status = 409


class StorageUnavailable(SpyneError):
    """The catalog or the warehouse exists but cannot be used: unreachable, refused, corrupt."""

    code = "storage_unavailable"
    http_status = 503


class CostLimitExceeded(SpyneError):
    """A warehouse query would scan (or bill) more bytes than the configured cap allows."""

    code = "cost_limit_exceeded"
    http_status = 422


class WarehouseBusy(SpyneError):
    code = "warehouse_busy"
    http_status = 503


class IntegrityViolation(SpyneError):
    """The catalog's own guarantees are missing or broken (guards dropped, audit chain broken)."""

    code = "integrity_violation"
    http_status = 500


class QueryBlocked(SpyneError):
    """The SQL safety gate refused a query: not one read-only query, or it reads what it may not."""

    code = "query_blocked"
    http_status = 422


class PreviewInvalid(SpyneError):
    """A preview id that cannot run: expired, someone else's, used, or its tables changed."""

    code = "preview_invalid"


# -- ingestion contracts (Open Data Contract Standard v3 + Spyne's ingestion semantics) ----------
class ContractInvalid(SpyneError):
    """The document is not a usable ODCS v3 contract (shape, apiVersion, kind, schema)."""

    code = "contract_invalid"
    http_status = 422


class ContractSemanticsMissing(ContractInvalid):
    code = "contract_semantics_missing"


class ContractSemanticsInvalid(ContractInvalid):
    code = "contract_semantics_invalid"


class ContractUnknownColumn(ContractInvalid):
    code = "contract_unknown_column"


class ContractKeyRequired(ContractInvalid):
    code = "contract_key_required"


class ContractColumnNullable(ContractInvalid):
    code = "contract_column_nullable"


class ContractEventTimeType(ContractInvalid):
    code = "contract_event_time_not_timestamp"


class ContractDurationInvalid(ContractInvalid):
    code = "contract_duration_invalid"


class ContractProcessingTimeDefault(ContractInvalid):
    code = "contract_processing_time_default"


class ContractVersionInvalid(ContractInvalid):
    code = "contract_version_invalid"


class ContractVersionConflict(SpyneError):
    """Changed content under a version already registered, or not above the newest one."""

    code = "contract_version_conflict"
    http_status = 409


class IngestConflict(SpyneError):
    """A batch holds different rows for one key at one event time and the contract says error."""

    code = "ingest_conflict"
    http_status = 409


# -- replay and backfill: a dry run first, then the real run bound to it ---------------------------
class DryRunRequired(SpyneError):
    code = "dry_run_required"
    http_status = 409


class DryRunExpired(SpyneError):
    code = "dry_run_expired"
    http_status = 409


class DryRunMismatch(SpyneError):
    """The dry-run id is unknown, used, someone else's, or was for other arguments."""

    code = "dry_run_mismatch"
    http_status = 409
