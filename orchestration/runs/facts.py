"""Read an error into the plain facts the failure policy classifies.

Drivers wrap each other (SQLAlchemy around psycopg2, Spyne's refusals around both, Dagster
around user code), so the whole chain is read: a Spyne refusal says the most, then the
innermost error that carries a code (a SQLSTATE, an HTTP status, a DuckDB or Google class),
then the outermost error. Errors that were only recorded (a step's failure in the event log)
keep their class name and message, which is what is read from them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from policies.errors import SpyneError
from policies.failures import FailureFacts

if TYPE_CHECKING:
    from dagster._utils.error import SerializableErrorInfo

_MESSAGE_LIMIT = 2000
_GENERIC = {"builtins.object", "builtins.BaseException", "builtins.Exception"}
_CODED_MODULES = ("psycopg2", "psycopg", "google.", "_duckdb", "duckdb", "requests", "http.client")


def _name(kind: type) -> str:
    return f"{kind.__module__}.{kind.__qualname__}"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The error, then what it wraps: driver originals, Dagster's user exception, causes."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        for attr in ("orig", "user_exception", "__cause__", "__context__"):
            inner = getattr(current, attr, None)
            if isinstance(inner, BaseException):
                todo.append(inner)


def _coded(exc: BaseException) -> bool:
    return _name(type(exc)).startswith(_CODED_MODULES) or getattr(exc, "pgcode", None) is not None


def _google_reason(exc: BaseException) -> str | None:
    reason = getattr(exc, "reason", None)
    if isinstance(reason, str) and reason:
        return reason
    for entry in getattr(exc, "errors", None) or []:
        if isinstance(entry, Mapping) and entry.get("reason"):
            return str(entry["reason"])
    return None


def _http_status(exc: BaseException) -> int | None:
    if _name(type(exc)).startswith("google.api_core"):
        code = getattr(exc, "code", None)
        return code if isinstance(code, int) and 100 <= code < 600 else None
    response: Any = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def _message(exc: BaseException) -> str:
    text = exc.message if isinstance(exc, SpyneError) else str(getattr(exc, "message", "") or exc)
    return text[:_MESSAGE_LIMIT]


def facts_from_exception(exc: BaseException, *, partial: bool = False) -> FailureFacts:
    chain = list(_chain(exc))
    spyne = next((e for e in chain if isinstance(e, SpyneError)), None)
    coded = next((e for e in reversed(chain) if _coded(e)), None)
    chosen = spyne or coded or chain[0]
    sqlstate = getattr(chosen, "pgcode", None) or getattr(chosen, "sqlstate", None)
    return FailureFacts(
        exception=_name(type(chosen)),
        bases=tuple(n for n in (_name(k) for k in type(chosen).__mro__[1:]) if n not in _GENERIC),
        message=_message(chosen),
        sqlstate=sqlstate if isinstance(sqlstate, str) else None,
        http_status=_http_status(chosen),
        reason=_google_reason(chosen) if _name(type(chosen)).startswith("google.") else None,
        spyne_code=chosen.code if isinstance(chosen, SpyneError) else None,
        partial=partial,
    )


def error_chain(info: SerializableErrorInfo | None) -> Iterator[SerializableErrorInfo]:
    while info is not None:
        yield info
        info = info.cause or info.context


def facts_from_error_info(info: SerializableErrorInfo) -> FailureFacts:
    """A recorded error: its class name and message (``Class: message`` as Python prints it)."""
    name = info.cls_name or ""
    message = info.message.strip()
    prefix, sep, rest = message.partition(": ")
    if sep and prefix.rsplit(".", 1)[-1] == name:
        name, message = prefix, rest
    return FailureFacts(exception=name, message=message[:_MESSAGE_LIMIT])
