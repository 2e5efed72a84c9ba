"""Prometheus metrics counted from the catalog at scrape time.

A custom collector reads what the catalog already records (drift findings, gate verdicts, state
changes, landed versions, open alerts) on every scrape, so the counters are right right after a
restart and agree whichever process serves them: nothing is counted in memory.

Only metrics whose facts exist are exposed. Replays and backfills have no operation yet, and the
ingestion lag needs contracts' event-time columns: ``spyne_replay_count_total``,
``spyne_backfill_rows_total`` and ``spyne_ingestion_lag_seconds`` appear once those exist. The
drift metrics' ``contract`` label names the source (``erp.res_partner``) until sources have
contracts; ``spyne_ingestion_rows_total`` counts rows landed per bronze table by the gate status
of the version they landed in.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import CollectorRegistry

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from orchestration.catalog import Catalog

LOOPBACK = "127.0.0.1"


class CatalogCollector:
    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def describe(self) -> list[Metric]:
        return []  # registering must not query the catalog

    def collect(self) -> Iterator[Metric]:
        facts = self._catalog.alert_facts
        drift, resolved = self._catalog.source_drift.counts()

        detected = CounterMetricFamily(
            "spyne_drift_detected",
            "Schema drift findings between a READ_ONLY source and its expected schema.",
            labels=["contract", "severity"],
        )
        for (source, severity), n in sorted(drift.items()):
            detected.add_metric([source, severity], n)
        yield detected
        yield CounterMetricFamily(
            "spyne_drift_resolved",
            "Drift findings resolved (the source agreed again or drifted differently).",
            value=resolved,
        )

        promotions = CounterMetricFamily(
            "spyne_table_promotions",
            "Table state changes (promote, publish, rollback, deprecate, restore).",
            labels=["from_state", "to_state"],
        )
        for (before, after), n in sorted(facts.promotions().items()):
            promotions.add_metric([before, after], n)
        yield promotions

        gates = CounterMetricFamily(
            "spyne_gate_failures", "Versions whose gates failed.", labels=["table"]
        )
        for table, n in sorted(facts.gate_failures().items()):
            gates.add_metric([table], n)
        yield gates

        rows = CounterMetricFamily(
            "spyne_ingestion_rows",
            "Rows landed in bronze, by table and the gate status of the version they landed in.",
            labels=["contract", "status"],
        )
        for (table, status), n in sorted(facts.landed_rows().items()):
            rows.add_metric([table, status], n)
        yield rows

        open_alerts = GaugeMetricFamily(
            "spyne_alerts_open", "Alert conditions open now.", labels=["kind"]
        )
        for kind, n in sorted(self._catalog.notifications.open_counts().items()):
            open_alerts.add_metric([kind], n)
        yield open_alerts


def registry_for(catalog: Catalog) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(CatalogCollector(catalog))
    return registry


def serve(catalog: Catalog, port: int) -> WSGIServer:
    """Serve ``/metrics`` on loopback in a background thread; the caller shuts it down."""
    from prometheus_client.exposition import start_http_server

    server, _thread = start_http_server(port, addr=LOOPBACK, registry=registry_for(catalog))
    return server
