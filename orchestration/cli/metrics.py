"""`spyne metrics serve`: the Prometheus exposition of Spyne's metrics, on loopback."""

from __future__ import annotations

import signal
import threading
from typing import Annotated

import typer

from orchestration.cli.common import allowed, new_app, out, refusals

app = new_app("Prometheus metrics counted from the catalog.")


@app.command("serve")
def serve(
    port: Annotated[
        int, typer.Option("--port", min=1, max=65535, help="Port on 127.0.0.1.")
    ] = 9464,
) -> None:
    """Serve /metrics on 127.0.0.1 until Ctrl-C (engineer or admin)."""
    from orchestration.alerts.metrics import LOOPBACK
    from orchestration.alerts.metrics import serve as start
    from policies.roles import Operation

    with refusals():
        rt, _me = allowed(Operation.VIEW_ALERTS, "metrics")
        from orchestration.sensors.event_time import ingestion_lags

        server = start(rt.catalog, port, lambda: ingestion_lags(rt.catalog, rt.warehouse))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    out.print(
        f"serving Spyne's metrics on http://{LOOPBACK}:{server.server_port}/metrics (Ctrl-C stops)"
    )
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        server.server_close()
