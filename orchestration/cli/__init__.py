"""`spyne`: the command line for the operations Dagster runs use too.

Every command that reads or changes governed state needs an identity (SPYNE_API_KEY) whose
role and the system mode the same policies check; refusals print a typed error and exit 1.
One module per command group; heavy libraries are imported inside the commands that use them.
"""

from __future__ import annotations

from orchestration.cli import (
    alerts,
    audit,
    auth,
    contracts,
    dev,
    drift,
    gates,
    ingest,
    install,
    joins,
    metrics,
    mode,
    pii,
    query,
    runs,
    tables,
)
from orchestration.cli.common import new_app

app = new_app("Spyne: an enterprise-safe data platform on dbt + Dagster.")
app.command("init")(install.init)
app.command("doctor")(install.doctor)
app.command("demo")(dev.demo)
app.command("ui")(dev.ui)
for name, group in (
    ("tables", tables.app),
    ("mode", mode.app),
    ("auth", auth.app),
    ("audit", audit.app),
    ("gates", gates.app),
    ("runs", runs.app),
    ("sample", dev.sample_app),
    ("docs", dev.docs_app),
    ("contracts", contracts.app),
    ("drift", drift.app),
    ("alerts", alerts.app),
    ("metrics", metrics.app),
    ("joins", joins.app),
    ("query", query.app),
    ("pii", pii.app),
    ("ingest", ingest.app),
):
    app.add_typer(group, name=name)

__all__ = ["app"]
