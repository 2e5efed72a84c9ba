"""What every `spyne` command shares: consoles that never read user text as markup, refusals
printed as typed errors, the runtime and the caller's identity, opened only when needed.

Commands import heavy modules (catalog, warehouse, Dagster, dbt, Great Expectations) inside
their bodies, so `spyne --help` and quick commands never pay for what they do not use.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from typer.core import TyperGroup

from policies.errors import SpyneError

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from orchestration.identity import Actor
    from orchestration.runtime import Runtime
    from policies.roles import Operation


class _OnFirstUse:
    """A rich Console made when first printed to: ``--json`` answers never load rich's renderer.

    Wide enough for table names and timestamps when the stream is not a terminal. Markup is
    off: names, reasons and keys are printed exactly as they are, whatever brackets they hold.
    """

    def __init__(self, *, stderr: bool) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    def made(self) -> Console:
        if self._console is None:
            from rich.console import Console

            stream = sys.stderr if self._stderr else sys.stdout
            self._console = Console(
                stderr=self._stderr,
                width=None if stream.isatty() else 160,
                markup=False,
                highlight=False,
            )
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.made(), name)

    # Dunders are looked up on the type: what rich components call on their console.
    def __enter__(self) -> Console:
        return self.made().__enter__()

    def __exit__(self, *exc: object) -> None:
        self.made().__exit__(*exc)  # type: ignore[arg-type]


out = cast("Console", _OnFirstUse(stderr=False))
err_console = cast("Console", _OnFirstUse(stderr=True))


def rich_console(console: Console) -> Console:
    """The Console itself behind ``out`` or ``err_console``, for rich components that take one."""
    return console.made() if isinstance(console, _OnFirstUse) else console


JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
DEBUG_ENV = "SPYNE_DEBUG"


def new_app(help_text: str, cls: type[TyperGroup] | None = None) -> typer.Typer:
    return typer.Typer(
        help=help_text, no_args_is_help=True, pretty_exceptions_enable=False, cls=cls
    )


def print_error(err: SpyneError) -> None:
    from rich.text import Text

    err_console.print(Text.assemble(("error ", "bold red"), f"[{err.code}]: {err.message}"))
    if err.details:
        err_console.print(json.dumps(err.details, indent=2, default=str, ensure_ascii=False))


@contextmanager
def refusals() -> Iterator[None]:
    """Print a typed refusal and exit 1; nothing was changed by the refused operation.

    Anything else that escapes is a defect: it is reported as one (exit 2) instead of a
    traceback, unless SPYNE_DEBUG=1 asks for the traceback.
    """
    try:
        yield
    except SpyneError as e:
        print_error(e)
        raise typer.Exit(1) from None
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as e:
        from rich.text import Text

        if os.environ.get(DEBUG_ENV):
            traceback.print_exc()
        err_console.print(
            Text.assemble(
                ("error ", "bold red"),
                f"[internal_error]: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
                f" (set {DEBUG_ENV}=1 to see where; please report it)",
            )
        )
        raise typer.Exit(2) from None


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")


def runtime() -> Runtime:
    from orchestration.runtime import runtime as _runtime

    return _runtime()


def actor(rt: Runtime) -> Actor:
    """The caller, authenticated; then anything an interrupted act left is settled first."""
    from orchestration.identity import current_actor

    me = current_actor(rt.catalog)
    if rt.catalog.any_pending_intent():
        for settled in rt.service().settle(me.name):
            from rich.text import Text

            err_console.print(Text(f"recovered: {settled.intent.table_name}: {settled.note}"))
    return me


def allowed(operation: Operation, target: str) -> tuple[Runtime, Actor]:
    """The runtime and the caller, once the caller may do ``operation`` on ``target`` (role and
    system mode, through the same policy every surface asks); a refusal is audited and raised."""
    rt = runtime()
    me = actor(rt)
    rt.require(me, operation, target)
    return rt, me


def styled(*parts: str | tuple[str, str]) -> Text:
    """A line of plain text with styled parts; never parsed as markup."""
    from rich.text import Text

    return Text.assemble(*parts)


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    from rich.table import Table
    from rich.text import Text

    t = Table(title=title)
    for column in columns:
        t.add_column(column, overflow="fold")
    for row in rows:
        t.add_row(*(cell if isinstance(cell, Text) else Text(_cell(cell)) for cell in row))
    return t


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def version_label(version: int | None) -> str:
    return "-" if version is None else f"v{version}"
