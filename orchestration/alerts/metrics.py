"""Prometheus metrics counted from the catalog at scrape time.

A custom collector reads what the catalog already records (drift findings, gate verdicts, state
changes, landed versions, open alerts) on every scrape, so the counters are right right after a
restart and agree whichever process serves them: nothing is counted in memory.

Replays and backfills are counted from their audit entries (``spyne_replay_count_total``, and
``spyne_backfill_rows_total{contract}``: rows that entered bronze). The drift metrics'
``contract`` label names the source (``erp.res_partner``);
``spyne_ingestion_rows_total`` counts rows landed per bronze table by the gate status of the
version they landed in. ``spyne_ingestion_lag_seconds{contract}`` is the one gauge read from the
warehouse: now minus each contract's newest event time landed (what freshness is judged on); a
scrape while the warehouse is busy leaves it out rather than failing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import CollectorRegistry

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from orchestration.catalog import Catalog

LOOPBACK = "127.0.0.1"


class CatalogCollector:
    def __init__(self, catalog: Catalog, lags: Callable[[], Mapping[str, float]] | None = None):
        self._catalog = catalog
        self._lags = lags

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

        yield CounterMetricFamily(
            "spyne_replay_count",
            "Replays of a time range that ran (each after its dry run).",
            value=len(facts.range_runs("replay")),
        )
        backfilled = CounterMetricFamily(
            "spyne_backfill_rows",
            "Rows that entered bronze through backfills, per bronze table.",
            labels=["contract"],
        )
        per_table: dict[str, int] = {}
        for table, n in facts.range_runs("backfill"):
            per_table[table] = per_table.get(table, 0) + n
        for table, n in sorted(per_table.items()):
            backfilled.add_metric([table], n)
        yield backfilled

        open_alerts = GaugeMetricFamily(
            "spyne_alerts_open", "Alert conditions open now.", labels=["kind"]
        )
        for kind, n in sorted(self._catalog.notifications.open_counts().items()):
            open_alerts.add_metric([kind], n)
        yield open_alerts
        if self._lags is not None:
            yield from self._lag()

    def _lag(self) -> Iterator[Metric]:
        assert self._lags is not None
        try:
            lags = self._lags()
        except Exception:  # the warehouse is busy (a writer holds it) or gone: a scrape never fails
            return
        lag = GaugeMetricFamily(
            "spyne_ingestion_lag_seconds",
            "Seconds between now and the newest event time landed, per contract.",
            labels=["contract"],
        )
        for contract, seconds in sorted(lags.items()):
            lag.add_metric([contract], seconds)
        yield lag


def registry_for(
    catalog: Catalog, lags: Callable[[], Mapping[str, float]] | None = None
) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(CatalogCollector(catalog, lags))
    return registry


def serve(
    catalog: Catalog, port: int, lags: Callable[[], Mapping[str, float]] | None = None
) -> WSGIServer:
    """Serve ``/metrics`` on loopback in a background thread; the caller shuts it down."""
    from prometheus_client.exposition import start_http_server

    server, _thread = start_http_server(port, addr=LOOPBACK, registry=registry_for(catalog, lags))
    return server
