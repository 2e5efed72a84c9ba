"""`spyne`: the command line for the operations Dagster runs use too.

Every command that reads or changes governed state needs an identity (SPYNE_API_KEY) whose
role and the system mode the same policies check; refusals print a typed error and exit 1.
One module per command group, imported only when its group is called (``spyne tables list``
never imports the alerts, joins or query modules); heavy libraries are imported inside the
commands that use them.
"""

from __future__ import annotations

import importlib

import click
import typer
from typer.core import TyperGroup

from orchestration.cli import dev, install
from orchestration.cli.common import new_app

# Each group: the module and the Typer app in it. `spyne --help` loads them all to list them.
GROUPS: dict[str, tuple[str, str]] = {
    "tables": ("orchestration.cli.tables", "app"),
    "mode": ("orchestration.cli.mode", "app"),
    "auth": ("orchestration.cli.auth", "app"),
    "audit": ("orchestration.cli.audit", "app"),
    "gates": ("orchestration.cli.gates", "app"),
    "runs": ("orchestration.cli.runs", "app"),
    "sample": ("orchestration.cli.dev", "sample_app"),
    "docs": ("orchestration.cli.dev", "docs_app"),
    "contracts": ("orchestration.cli.contracts", "app"),
    "ingest": ("orchestration.cli.ingest", "app"),
    "drift": ("orchestration.cli.drift", "app"),
    "alerts": ("orchestration.cli.alerts", "app"),
    "metrics": ("orchestration.cli.metrics", "app"),
    "joins": ("orchestration.cli.joins", "app"),
    "query": ("orchestration.cli.query", "app"),
    "pii": ("orchestration.cli.pii", "app"),
}


def group_app(name: str) -> typer.Typer:
    """The Typer app of one command group (imports its module)."""
    module, attribute = GROUPS[name]
    found = getattr(importlib.import_module(module), attribute)
    assert isinstance(found, typer.Typer), f"{module}.{attribute} is not a Typer app"
    return found


class LazyGroups(TyperGroup):
    """Click's lazily loaded subcommands: a group is built when it is called, not at start-up."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        eager = super().list_commands(ctx)
        return [*eager, *(name for name in GROUPS if name not in eager)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in GROUPS and cmd_name not in self.commands:
            group = typer.main.get_group(group_app(cmd_name))
            group.name = cmd_name
            self.add_command(group, cmd_name)
        return super().get_command(ctx, cmd_name)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and args[0] not in self.commands and args[0] not in GROUPS:
            for name in GROUPS:  # an unknown command: suggest among every group's name
                self.get_command(ctx, name)
        return super().resolve_command(ctx, args)


app = new_app("Spyne: an enterprise-safe data platform on dbt + Dagster.", cls=LazyGroups)
app.command("init")(install.init)
app.command("doctor")(install.doctor)
app.command("demo")(dev.demo)
app.command("ui")(dev.ui)

__all__ = ["GROUPS", "app", "group_app"]
