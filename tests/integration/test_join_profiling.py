"""Profiles and join validation computed in the warehouse, checked against hand-computed numbers,
on a real DuckDB file and on BigQuery through the fake client (the SQL BigQuery would receive).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from orchestration.catalog import Catalog
from orchestration.warehouse.interface import JoinSide
from policies.joins.profiles import containment
from policies.joins.risk import Cardinality, Flag, flags
from policies.naming import Layer, TableRef
from policies.roles import Role
from tests.warehouse_support import KINDS, Adapter, adapter

CUSTOMERS = TableRef(Layer.SILVER, "customers")
ORDERS = TableRef(Layer.SILVER, "orders")
LINES = TableRef(Layer.SILVER, "order_lines")


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    c = Catalog(f"sqlite:///{tmp_path}/catalog.db")
    c.upgrade()
    c.create_principal("ada", Role.ADMIN, created_by="test")
    yield c
    c.dispose()


@pytest.fixture(params=KINDS)
def wh(request: pytest.FixtureRequest, tmp_path: Path, catalog: Catalog) -> Adapter:
    a = adapter(request.param, tmp_path, catalog.engine)
    w = a.warehouse
    w.create_version_from_rows(
        CUSTOMERS, 1, pa.table({"id": [1, 2, 3, 4], "name": ["a", "b", "c", "d"]})
    )
    w.create_version_from_rows(
        ORDERS,
        1,
        pa.table(
            {
                "id": list(range(1, 9)),
                "customer_id": [1, 1, 1, 2, 2, 5, None, None],
                "amount": [1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5],
            }
        ),
    )
    w.create_version_from_rows(
        LINES, 1, pa.table({"order_id": [1, 1, 2, 2], "line_no": [1, 2, 1, 2], "qty": [3, 3, 1, 1]})
    )
    return a


def test_a_profile_holds_hand_computed_counts_ranges_and_sketches(wh: Adapter) -> None:
    customers = wh.warehouse.profile_table(CUSTOMERS, 1)
    orders = wh.warehouse.profile_table(ORDERS, 1)
    assert (customers.table, customers.version, customers.row_count) == ("silver.customers", 1, 4)
    cid = customers.column("id")
    assert (cid.non_null, cid.distinct, cid.min_value, cid.max_value) == (4, 4, 1, 4)
    assert cid.distinct_exact and customers.is_key(cid)
    name = customers.column("name")
    assert (name.min_value, name.max_value) == ("a", "d")
    fk = orders.column("customer_id")
    assert (fk.non_null, fk.distinct, fk.min_value, fk.max_value) == (6, 3, 1, 5)
    assert orders.null_fraction(fk) == 0.25 and not orders.is_key(fk)
    assert fk.sketch is not None and cid.sketch is not None
    assert len(fk.sketch.hashes) == 3 and len(cid.sketch.hashes) == 4
    assert containment(fk.sketch, cid.sketch) == (2 / 3, 3)
    amount = orders.column("amount")
    assert amount.sketch is None and (amount.min_value, amount.max_value) == (1.5, 8.5)


def test_two_column_keys_are_found_where_no_single_column_is_unique(wh: Adapter) -> None:
    lines = wh.warehouse.profile_table(LINES, 1)
    assert lines.composite_keys == (("line_no", "order_id"),)
    assert wh.warehouse.profile_table(ORDERS, 1).composite_keys == ()


def test_join_stats_match_hand_computed_numbers(wh: Adapter) -> None:
    stats = wh.warehouse.join_stats(
        JoinSide(ORDERS, 1, ("customer_id",)), JoinSide(CUSTOMERS, 1, ("id",)), samples=3
    )
    assert (stats.child_rows, stats.child_null_rows, stats.orphan_rows) == (8, 2, 1)
    assert (stats.matched_rows, stats.child_keys, stats.matched_keys) == (5, 3, 2)
    assert (stats.parent_keys, stats.max_fan_out, stats.max_parent_dup) == (4, 3, 1)
    assert (stats.null_pct, stats.orphan_pct, stats.fan_out_avg) == (25.0, 16.67, 2.5)
    assert stats.cardinality == Cardinality.ONE_TO_MANY
    assert flags(stats) == (Flag.WARNING,)
    assert len(stats.samples) == 3
    assert {s["child.customer_id"] for s in stats.samples} == {1}
    assert {s["parent.name"] for s in stats.samples} == {"a"}


def test_a_join_on_a_repeated_parent_key_is_many_to_many(wh: Adapter) -> None:
    stats = wh.warehouse.join_stats(
        JoinSide(LINES, 1, ("order_id",)), JoinSide(LINES, 1, ("order_id",)), samples=0
    )
    assert stats.cardinality == Cardinality.MANY_TO_MANY
    assert Flag.BLOCKED in flags(stats)
    assert (stats.max_fan_out, stats.max_parent_dup, stats.orphan_rows) == (2, 2, 0)


def test_two_column_join_stats(wh: Adapter) -> None:
    stats = wh.warehouse.join_stats(
        JoinSide(LINES, 1, ("order_id", "line_no")),
        JoinSide(LINES, 1, ("order_id", "line_no")),
        samples=1,
    )
    assert (stats.child_rows, stats.matched_rows, stats.matched_keys) == (4, 4, 4)
    assert stats.cardinality == Cardinality.ONE_TO_ONE


def test_bigquery_profiles_are_dry_run_capped_labelled_jobs(wh: Adapter) -> None:
    if wh.fake is None:
        pytest.skip("BigQuery only")
    before = len(wh.fake.requests)
    wh.warehouse.profile_table(ORDERS, 1)
    sent = [r for r in wh.fake.requests[before:] if r.method == "query"]
    ran = [r for r in sent if not r.dry_run and r.labels["action"] == "profile"]
    assert len(ran) == 2, "column stats, then sketches: no row leaves BigQuery"
    assert len([r for r in sent if r.dry_run and r.labels["action"] == "profile"]) == 2
    assert all(r.maximum_bytes_billed and r.labels["table"] == "orders" for r in ran)
