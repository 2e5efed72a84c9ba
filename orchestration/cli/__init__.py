"""`spyne`: the command line for the operations Dagster runs use too.

Every command that reads or changes governed state needs an identity (SPYNE_API_KEY) whose
role and the system mode the same policies check; refusals print a typed error and exit 1.
One module per command group; heavy libraries are imported inside the commands that use them.
"""

from __future__ import annotations

from orchestration.cli import audit, auth, dev, gates, install, mode, runs, tables
from orchestration.cli.common import new_app

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

from orchestration.cli import pii, query  # noqa: E402

app.add_typer(query.app, name="query")
app.add_typer(pii.app, name="pii")
from orchestration.cli import alerts, drift, metrics  # noqa: E402

app.add_typer(alerts.app, name="alerts")
app.add_typer(metrics.app, name="metrics")
app.add_typer(drift.app, name="drift")
from orchestration.cli import contracts  # noqa: E402

app.add_typer(contracts.app, name="contracts")

__all__ = ["app"]
