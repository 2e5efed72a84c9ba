"""How `spyne demo` shows itself: what it does as it does it, one progress line per layer.

Progress columns read Rich markup (names in them are escaped); everything printed on the
console is a ``Text``, since the CLI's consoles never read user text as markup.
"""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from orchestration.demo import DemoReport, LayerReport


class DemoDisplay:
    """A Rich progress display that is also the demo's observer."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            SpinnerColumn(finished_text="[green]✓[/]"),
            TextColumn("[bold]{task.fields[layer]:<7}[/]"),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
        )
        self.tasks: dict[str, TaskID] = {}

    def __enter__(self) -> DemoDisplay:
        self.progress.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.progress.__exit__(kind, error, trace)

    def note(self, message: str) -> None:
        self.progress.console.print(Text(message))

    def layer_started(self, layer: str, tables: int) -> None:
        self.tasks[layer] = self.progress.add_task(f"{tables} tables", total=1, layer=layer)

    def layer_step(self, layer: str, message: str) -> None:
        self.progress.update(self.tasks[layer], description=escape(message))

    def layer_finished(self, report: LayerReport) -> None:
        done = f"{len(report.tables)} tables ACTIVE"
        if report.promoted:
            done += f", {len(report.promoted)} promoted by the demo"
        if report.blocked:
            done = f"[red]{len(report.blocked)} blocked[/], " + done
        self.progress.update(
            self.tasks[report.layer], description=f"{done} in {report.seconds:.1f}s", completed=1
        )


def summary_table(report: DemoReport, total_seconds: float) -> Table:
    """What is ACTIVE and who published it; the caption is the time per layer and in all."""
    table = Table(
        title=f"ACTIVE tables (first versions promoted by the demo as {report.admin})",
        caption="; ".join(f"{layer.layer} {layer.seconds:.1f}s" for layer in report.layers)
        + f"; in all {total_seconds:.1f}s (with loading Spyne and Dagster)",
    )
    table.add_column("layer")
    table.add_column("table")
    table.add_column("rows", justify="right")
    table.add_column("published by")
    for layer in report.layers:
        promoted = set(layer.promoted)
        for name, count in sorted(layer.tables.items()):
            how = f"{report.admin} (first promotion)" if name in promoted else "the run's policy"
            table.add_row(layer.layer, name, f"{count:,}", how)
        for name, why in sorted(layer.blocked.items()):
            table.add_row(layer.layer, name, "", Text.assemble(("blocked", "red"), f": {why}"))
    return table
