"""`spyne`: the command line for the operations Dagster runs use too.

Every command that reads or changes governed state needs an identity (SPYNE_API_KEY) whose
role and the system mode the same policies check; refusals print a typed error and exit 1.
One module per command group; heavy libraries are imported inside the commands that use them.
"""

from __future__ import annotations

from orchestration.cli import audit, auth, dev, gates, install, mode, runs, tables
from orchestration.cli.common import new_app
from orchestration.cli.joins import app as joins_app

app = new_app("Spyne: an enterprise-safe data platform on dbt + Dagster.")
app.command("init")(install.init)
app.command("doctor")(install.doctor)
app.command("demo")(dev.demo)
app.command("ui")(dev.ui)
app.add_typer(tables.app, name="tables")
app.add_typer(mode.app, name="mode")
app.add_typer(auth.app, name="auth")
app.add_typer(audit.app, name="audit")
app.add_typer(gates.app, name="gates")
app.add_typer(runs.app, name="runs")
app.add_typer(dev.sample_app, name="sample")
app.add_typer(dev.docs_app, name="docs")
app.add_typer(joins_app, name="joins")

__all__ = ["app"]
