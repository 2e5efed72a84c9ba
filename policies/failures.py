"""What kind of failure an error is, and whether trying again can help.

A step that fails is either worth another try (a lock held by another writer, a connection
reset, a rate limit, a timeout) or not (a refusal, bad SQL, a missing table, a hard quota):
retrying the second kind only hides it and costs money. Errors come from DuckDB, BigQuery
(``google.api_core``), PostgreSQL (psycopg2, through SQLAlchemy) and Spyne's own typed refusals;
orchestration reduces each to :class:`FailureFacts` (class names, SQLSTATE, HTTP status, reason
code, message) and these rules, tried in order, name its :class:`FailureClass`. An error no rule
recognises is ``UNCLASSIFIED`` and never retried: when in doubt, a person looks.

A run whose retries are used up lands in the dead-letter list (:func:`decide_dead_letter`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

# Every retryable step gets at most this many tries in all (the first and two retries), with an
# exponential backoff from BASE_DELAY_SECONDS between them.
MAX_TRIES = 3
BASE_DELAY_SECONDS = 10.0


class FailureClass(StrEnum):
    TIMEOUT = "TIMEOUT"
    QUOTA_EXCEEDED = "QUOTA_EXCEEDED"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    TRANSIENT_ERROR = "TRANSIENT_ERROR"
    MALFORMED_RESPONSE = "MALFORMED_RESPONSE"
    PARTIAL_RESULTS = "PARTIAL_RESULTS"
    VALIDATION_FAILED = "VALIDATION_FAILED"
    UNCLASSIFIED = "UNCLASSIFIED"


@dataclass(frozen=True)
class FailureFacts:
    """One error, as plain values. Class names are qualified (``module.Class``) when known."""

    exception: str = ""
    bases: tuple[str, ...] = ()  # the exception's base classes, nearest first
    message: str = ""
    sqlstate: str | None = None  # PostgreSQL's five-character error code
    http_status: int | None = None  # an HTTP API's status (BigQuery's google.api_core errors)
    reason: str | None = None  # an API's reason code, e.g. BigQuery's "rateLimitExceeded"
    spyne_code: str | None = None  # a Spyne refusal's stable code
    partial: bool = False  # the step kept part of its work before it failed

    def is_a(self, *names: str) -> bool:
        """Whether the exception is (or derives from) one of ``names``, qualified or short."""
        for name in (self.exception, *self.bases):
            short = name.rsplit(".", 1)[-1]
            if name in names or short in names:
                return True
        return False

    def says(self, *phrases: str) -> bool:
        text = self.message.lower()
        return any(p in text for p in phrases)


@dataclass(frozen=True)
class Classification:
    failure_class: FailureClass
    retryable: bool
    rule: str  # which rule decided
    why: str  # one sentence a person can act on

    def describe(self, message: str) -> str:
        """The step's failure text: the class first, so people and the dead-letter list read it."""
        kind = "retryable" if self.retryable else "not retried"
        return f"[{self.failure_class.value}] ({kind}) {message}"


Rule = Callable[[FailureFacts], Classification | None]


def _c(cls: FailureClass, retryable: bool, rule: str, why: str) -> Classification:
    return Classification(cls, retryable, rule, why)


# -- rules, in order -----------------------------------------------------------------------
def partial_work(f: FailureFacts) -> Classification | None:
    if not f.partial:
        return None
    return _c(
        FailureClass.PARTIAL_RESULTS,
        False,
        "partial_work",
        "the step kept part of its work before failing; a person decides what to run again",
    )


_SPYNE_CODES: dict[str, tuple[FailureClass, bool, str]] = {
    "warehouse_busy": (FailureClass.TRANSIENT_ERROR, True, "another writer holds the warehouse"),
    "concurrent_change": (FailureClass.TRANSIENT_ERROR, True, "the catalog was busy"),
    "cost_limit_exceeded": (FailureClass.QUOTA_EXCEEDED, False, "the byte cap refused the query"),
    "permission_denied": (FailureClass.PERMISSION_DENIED, False, "the role may not do this"),
    "authentication_required": (FailureClass.PERMISSION_DENIED, False, "the run has no identity"),
    "mode_refused": (FailureClass.PERMISSION_DENIED, False, "the system mode refuses this"),
}
_SPYNE_VALIDATION = {
    "validation_failed",
    "gate_failed",
    "breaking_drift",
    "invalid_transition",
    "approval_required",
    "not_found",
    "config_invalid",
    "not_initialized",
    "integrity_violation",
}


def spyne_refusal(f: FailureFacts) -> Classification | None:
    """Spyne's own typed errors already say what happened."""
    code = f.spyne_code
    if code is None:
        return None
    if code in _SPYNE_CODES:
        cls, retryable, why = _SPYNE_CODES[code]
        return _c(cls, retryable, "spyne_refusal", why)
    if code in _SPYNE_VALIDATION:
        return _c(FailureClass.VALIDATION_FAILED, False, "spyne_refusal", f"Spyne refused: {code}")
    if code == "storage_unavailable":
        if f.says("corrupt", "not writable", "restore it from a backup", "cannot be used"):
            return _c(
                FailureClass.VALIDATION_FAILED,
                False,
                "spyne_refusal",
                "the storage is damaged or misconfigured; retrying cannot repair it",
            )
        return _c(FailureClass.TRANSIENT_ERROR, True, "spyne_refusal", "the storage did not answer")
    return None


# BigQuery's reason codes (the ``reason`` of the error's first entry).
_BQ_REASONS: dict[str, tuple[FailureClass, bool]] = {
    "rateLimitExceeded": (FailureClass.QUOTA_EXCEEDED, True),
    "quotaExceeded": (FailureClass.QUOTA_EXCEEDED, False),
    "bytesBilledLimitExceeded": (FailureClass.QUOTA_EXCEEDED, False),
    "billingTierLimitExceeded": (FailureClass.QUOTA_EXCEEDED, False),
    "resourcesExceeded": (FailureClass.QUOTA_EXCEEDED, False),
    "accessDenied": (FailureClass.PERMISSION_DENIED, False),
    "billingNotEnabled": (FailureClass.PERMISSION_DENIED, False),
    "backendError": (FailureClass.TRANSIENT_ERROR, True),
    "internalError": (FailureClass.TRANSIENT_ERROR, True),
    "jobBackendError": (FailureClass.TRANSIENT_ERROR, True),
    "jobInternalError": (FailureClass.TRANSIENT_ERROR, True),
    "timeout": (FailureClass.TIMEOUT, True),
    "responseTooLarge": (FailureClass.PARTIAL_RESULTS, False),
    "invalidQuery": (FailureClass.VALIDATION_FAILED, False),
    "invalid": (FailureClass.VALIDATION_FAILED, False),
    "notFound": (FailureClass.VALIDATION_FAILED, False),
    "duplicate": (FailureClass.VALIDATION_FAILED, False),
}


def api_reason(f: FailureFacts) -> Classification | None:
    if f.reason is None or f.reason not in _BQ_REASONS:
        return None
    cls, retryable = _BQ_REASONS[f.reason]
    return _c(cls, retryable, "api_reason", f"the API answered with reason {f.reason}")


def http_status(f: FailureFacts) -> Classification | None:
    status = f.http_status
    if status is None:
        return None
    if status in (408, 504):
        return _c(FailureClass.TIMEOUT, True, "http_status", f"HTTP {status}: the call timed out")
    if status == 429:
        return _c(FailureClass.QUOTA_EXCEEDED, True, "http_status", "HTTP 429: rate limited")
    if status in (401, 403):
        if f.says("quota", "rate limit"):
            retryable = f.says("rate limit")
            return _c(FailureClass.QUOTA_EXCEEDED, retryable, "http_status", f"HTTP {status}")
        return _c(FailureClass.PERMISSION_DENIED, False, "http_status", f"HTTP {status}: refused")
    if status in (500, 502, 503):
        return _c(FailureClass.TRANSIENT_ERROR, True, "http_status", f"HTTP {status}")
    if 400 <= status < 500:
        return _c(FailureClass.VALIDATION_FAILED, False, "http_status", f"HTTP {status}")
    return None


# PostgreSQL SQLSTATEs, exact codes first, then by class (the first two characters).
_PG_CODES: dict[str, tuple[FailureClass, bool]] = {
    "57014": (FailureClass.TIMEOUT, True),  # query_canceled (statement_timeout)
    "55P03": (FailureClass.TIMEOUT, True),  # lock_not_available (lock_timeout)
    "40001": (FailureClass.TRANSIENT_ERROR, True),  # serialization_failure
    "40P01": (FailureClass.TRANSIENT_ERROR, True),  # deadlock_detected
    "57P01": (FailureClass.TRANSIENT_ERROR, True),  # admin_shutdown
    "57P02": (FailureClass.TRANSIENT_ERROR, True),  # crash_shutdown
    "57P03": (FailureClass.TRANSIENT_ERROR, True),  # cannot_connect_now
    "53300": (FailureClass.TRANSIENT_ERROR, True),  # too_many_connections
    "53100": (FailureClass.QUOTA_EXCEEDED, False),  # disk_full
    "53200": (FailureClass.QUOTA_EXCEEDED, False),  # out_of_memory
    "54000": (FailureClass.QUOTA_EXCEEDED, False),  # program_limit_exceeded
    "42501": (FailureClass.PERMISSION_DENIED, False),  # insufficient_privilege
}
_PG_CLASSES: dict[str, tuple[FailureClass, bool]] = {
    "08": (FailureClass.TRANSIENT_ERROR, True),  # connection exception
    "28": (FailureClass.PERMISSION_DENIED, False),  # invalid authorization
    "22": (FailureClass.VALIDATION_FAILED, False),  # data exception
    "23": (FailureClass.VALIDATION_FAILED, False),  # integrity constraint violation
    "42": (FailureClass.VALIDATION_FAILED, False),  # syntax error or access rule violation
    "P0": (FailureClass.VALIDATION_FAILED, False),  # raised by a trigger (the catalog's guards)
    "XX": (FailureClass.TRANSIENT_ERROR, True),  # internal error
}


def postgres_sqlstate(f: FailureFacts) -> Classification | None:
    code = f.sqlstate
    if not code:
        return None
    found = _PG_CODES.get(code) or _PG_CLASSES.get(code[:2])
    if found is None:
        return None
    return _c(found[0], found[1], "postgres_sqlstate", f"PostgreSQL SQLSTATE {code}")


_DUCKDB_VALIDATION = (
    "CatalogException",
    "BinderException",
    "ParserException",
    "ConversionException",
    "ConstraintException",
    "InvalidInputException",
    "InvalidTypeException",
    "TypeMismatchException",
    "NotImplementedException",
    "SyntaxException",
    "DependencyException",
    "OutOfRangeException",
)


def duckdb_error(f: FailureFacts) -> Classification | None:
    if not (f.exception.startswith(("duckdb.", "_duckdb.")) or f.is_a("duckdb.Error")):
        return None
    if f.is_a("IOException") and f.says("could not set lock", "conflicting lock"):
        return _c(
            FailureClass.TRANSIENT_ERROR, True, "duckdb_error", "another process holds the file"
        )
    if f.is_a("IOException", "PermissionException") and f.says("permission denied"):
        return _c(
            FailureClass.PERMISSION_DENIED, False, "duckdb_error", "the file is not accessible"
        )
    if f.is_a("HTTPException"):
        return None  # the HTTP status, when the message gives one, decides (see http_in_message)
    if f.is_a("TransactionException") and f.says("conflict"):
        return _c(
            FailureClass.TRANSIENT_ERROR, True, "duckdb_error", "a concurrent write conflicted"
        )
    if f.is_a("InterruptException"):
        return _c(FailureClass.TIMEOUT, True, "duckdb_error", "the query was interrupted")
    if f.is_a("OutOfMemoryException"):
        return _c(
            FailureClass.QUOTA_EXCEEDED, False, "duckdb_error", "the memory limit was reached"
        )
    if f.is_a("SerializationException"):
        return _c(
            FailureClass.VALIDATION_FAILED, False, "duckdb_error", "the database file is damaged"
        )
    if f.is_a(*_DUCKDB_VALIDATION):
        return _c(
            FailureClass.VALIDATION_FAILED, False, "duckdb_error", "DuckDB refused the statement"
        )
    return None


_HTTP_IN_MESSAGE = re.compile(r"\bHTTP[ /]?(?:\d\.\d )?\(?(\d{3})\)?|\((?:HTTP )?(\d{3})\)")


def http_in_message(f: FailureFacts) -> Classification | None:
    """Clients that put the status only in their message (DuckDB's httpfs, requests' text)."""
    if f.http_status is not None or not f.is_a("HTTPException", "HTTPError"):
        return None
    match = _HTTP_IN_MESSAGE.search(f.message)
    if match is None:
        return None
    status = int(match.group(1) or match.group(2))
    found = http_status(FailureFacts(message=f.message, http_status=status))
    return found and _c(found.failure_class, found.retryable, "http_in_message", found.why)


def python_builtin(f: FailureFacts) -> Classification | None:
    if f.is_a("RetryError") and f.exception.startswith("google.api_core"):
        return _c(
            FailureClass.TIMEOUT, True, "python_builtin", "the client's own retries ran out of time"
        )
    if f.is_a("TimeoutError", "timeout", "ReadTimeout", "ConnectTimeout", "DeadlineExceeded"):
        return _c(FailureClass.TIMEOUT, True, "python_builtin", "the call timed out")
    if f.is_a("JSONDecodeError", "IncompleteRead", "ChunkedEncodingError", "DecodeError"):
        return _c(
            FailureClass.MALFORMED_RESPONSE, True, "python_builtin", "the answer could not be read"
        )
    if f.is_a("PermissionError"):
        return _c(
            FailureClass.PERMISSION_DENIED, False, "python_builtin", "the file is not accessible"
        )
    if f.is_a("ConnectionError", "ConnectionResetError", "BrokenPipeError", "RemoteDisconnected"):
        return _c(FailureClass.TRANSIENT_ERROR, True, "python_builtin", "the connection failed")
    if f.is_a("RefreshError", "DefaultCredentialsError"):
        return _c(
            FailureClass.PERMISSION_DENIED, False, "python_builtin", "the credentials do not work"
        )
    if f.is_a("DagsterAssetCheckFailedError"):
        return _c(
            FailureClass.VALIDATION_FAILED, False, "python_builtin", "a blocking check failed"
        )
    return None


# Last resort: words drivers use when they give nothing better (psycopg2's OperationalError
# before a connection exists carries no SQLSTATE).
_KEYWORDS: tuple[tuple[tuple[str, ...], FailureClass, bool], ...] = (
    (("timed out", "timeout expired", "deadline exceeded"), FailureClass.TIMEOUT, True),
    (("rate limit", "too many requests"), FailureClass.QUOTA_EXCEEDED, True),
    (("quota exceeded", "exceeded quota"), FailureClass.QUOTA_EXCEEDED, False),
    (
        ("permission denied", "access denied", "forbidden", "not authorized", "password auth"),
        FailureClass.PERMISSION_DENIED,
        False,
    ),
    (
        (
            "connection refused",
            "connection reset",
            "server closed the connection unexpectedly",
            "could not connect",
            "could not translate host name",
            "temporarily unavailable",
            "try again",
            "ssl syscall error",
            "broken pipe",
            "could not set lock",
        ),
        FailureClass.TRANSIENT_ERROR,
        True,
    ),
    (
        ("malformed", "unexpected end of", "invalid json", "could not decode", "truncated"),
        FailureClass.MALFORMED_RESPONSE,
        True,
    ),
)


def message_keywords(f: FailureFacts) -> Classification | None:
    for phrases, cls, retryable in _KEYWORDS:
        if f.says(*phrases):
            return _c(cls, retryable, "message_keywords", "recognised from the error's words")
    return None


RULES: tuple[Rule, ...] = (
    partial_work,
    spyne_refusal,
    api_reason,
    http_status,
    postgres_sqlstate,
    duckdb_error,
    http_in_message,
    python_builtin,
    message_keywords,
)

UNCLASSIFIED = Classification(
    FailureClass.UNCLASSIFIED,
    False,
    "fallback",
    "no rule recognises this error; it is not retried blindly, a person looks",
)


def classify(facts: FailureFacts, rules: Sequence[Rule] = RULES) -> Classification:
    """The first rule that recognises the error decides; otherwise UNCLASSIFIED, not retried."""
    for rule in rules:
        found = rule(facts)
        if found is not None:
            return found
    return UNCLASSIFIED


_DESCRIBED = re.compile(r"\[(?P<cls>[A-Z_]+)\] \((?P<kind>retryable|not retried)\) ")


def read_description(text: str) -> Classification | None:
    """The classification a step wrote at the head of its failure (see ``describe``)."""
    match = _DESCRIBED.search(text)
    if match is None or match.group("cls") not in FailureClass.__members__:
        return None
    return _c(
        FailureClass(match.group("cls")),
        match.group("kind") == "retryable",
        "described",
        "classified by the step that failed",
    )


# -- dead letters ---------------------------------------------------------------------------
@dataclass(frozen=True)
class StepFailure:
    step_key: str
    failure_class: FailureClass
    retryable: bool
    attempts: int
    message: str


@dataclass(frozen=True)
class RunFailure:
    """A failed run as the dead-letter rule sees it."""

    run_id: str
    steps: tuple[StepFailure, ...]  # each failed step's last failure
    will_retry: bool  # Dagster's run retries launch it again
    outside_steps: Classification | None = None  # a failure of the run itself (its worker died)


@dataclass(frozen=True)
class DeadLetterVerdict:
    dead_letter: bool
    failure_class: FailureClass | None
    why: str


def decide_dead_letter(run: RunFailure) -> DeadLetterVerdict:
    """A run lands in the dead-letter list when its retries are used up.

    Terminal failures (refusals, bad SQL, failed gates) are not dead letters: they were never
    retried, they are audited where they happened, and running them again fails the same way.
    """
    if run.will_retry:
        return DeadLetterVerdict(False, None, "Dagster's run retries launch it again")
    exhausted = [s for s in run.steps if s.retryable]
    if exhausted:
        first = exhausted[0]
        return DeadLetterVerdict(
            True,
            first.failure_class,
            f"step {first.step_key} failed {first.attempts} time(s) with "
            f"{first.failure_class.value}; its retries are used up",
        )
    if not run.steps:
        cls = run.outside_steps.failure_class if run.outside_steps else FailureClass.UNCLASSIFIED
        return DeadLetterVerdict(
            True, cls, "the run failed outside its steps and its run retries are used up"
        )
    terminal = run.steps[0]
    return DeadLetterVerdict(
        False,
        terminal.failure_class,
        f"step {terminal.step_key} failed with {terminal.failure_class.value}, which is never "
        "retried: fix the cause, then run it again",
    )
