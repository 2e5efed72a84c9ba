from __future__ import annotations

import fcntl
import os
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from orchestration.sample import SOURCE_TABLES, generate, source_metrics
from orchestration.sample import writer as writer_module
from orchestration.sample.generator import build_tables
from orchestration.sample.timeline import ANCHOR_DATE, WINDOW_START
from policies.errors import ApprovalRequired, ValidationFailed
from tests.sample_content import fingerprint

LINES = 3000


def _query(path: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _scalar(path: Path, sql: str):
    rows = _query(path, sql)
    assert len(rows) == 1
    return rows[0][0]


def _latest(table: str) -> str:
    return (
        f"(select * from main.{table} "
        "qualify row_number() over (partition by id order by write_date desc) = 1)"
    )


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sample") / "erp.duckdb"
    generate(path, lines=LINES, seed=42)
    return path


def test_same_seed_gives_identical_content(tmp_path: Path, sample: Path) -> None:
    again = generate(tmp_path / "again.duckdb", lines=LINES, seed=42)
    assert fingerprint(again.path) == fingerprint(sample)


def test_different_seed_gives_different_content(tmp_path: Path, sample: Path) -> None:
    other = generate(tmp_path / "other.duckdb", lines=LINES, seed=7)
    mine, theirs = fingerprint(sample), fingerprint(other.path)
    assert all(mine[table] != theirs[table] for table in SOURCE_TABLES)


def test_summary_reports_what_was_written(tmp_path: Path) -> None:
    summary = generate(tmp_path / "erp.duckdb", lines=600, seed=3)
    assert summary.path == tmp_path / "erp.duckdb"
    assert summary.seed == 3
    assert summary.lines == 600
    assert set(summary.row_counts) == set(SOURCE_TABLES)
    assert {t: f.rows for t, f in fingerprint(summary.path).items()} == summary.row_counts


def test_row_counts_scale_with_lines(tmp_path: Path) -> None:
    small = generate(tmp_path / "small.duckdb", lines=1_000, seed=1)
    large = generate(tmp_path / "large.duckdb", lines=10_000, seed=1)
    for summary, lines in ((small, 1_000), (large, 10_000)):
        assert _scalar(summary.path, "select count(distinct id) from main.sale_order_line") == lines
        orders = _scalar(summary.path, "select count(distinct id) from main.sale_order")
        assert orders == lines // 3
    # Transactions grow linearly, master data sub-linearly.
    for table in ("sale_order", "sale_order_line", "account_move", "account_payment"):
        ratio = large.row_counts[table] / small.row_counts[table]
        assert 8 < ratio < 12, (table, ratio)
    for table in ("res_partner", "product_product"):
        ratio = large.row_counts[table] / small.row_counts[table]
        assert 1.5 < ratio < 5, (table, ratio)


def test_every_table_has_cdc_duplicates_with_a_newer_changed_version(tmp_path: Path) -> None:
    path = generate(tmp_path / "erp.duckdb", lines=20_000, seed=5).path
    for table in SOURCE_TABLES:
        rows, ids = _query(path, f"select count(*), count(distinct id) from main.{table}")[0]
        assert rows > ids, f"{table} has no duplicate ids"
        ties = _scalar(
            path,
            f"select count(*) from (select id, write_date from main.{table} "
            "group by all having count(*) > 1)",
        )
        assert ties == 0, f"{table} has two versions with the same write_date"
        unchanged = _scalar(
            path,
            f"""
            select count(*)
            from (select id, count(*) as versions from main.{table} group by id) as v
            join (
                select id, count(*) as contents
                from (select distinct * exclude (write_date) from main.{table})
                group by id
            ) as c using (id)
            where c.contents < v.versions
            """,
        )
        assert unchanged == 0


def test_stale_versions_change_business_values(sample: Path) -> None:
    changed_states = _scalar(
        sample,
        """
        select count(*) from main.sale_order as older
        join main.sale_order as newer on older.id = newer.id and older.write_date < newer.write_date
        where older.state <> newer.state
        """,
    )
    stale_orders = _scalar(sample, "select count(*) - count(distinct id) from main.sale_order")
    assert stale_orders > 0
    assert changed_states == stale_orders


def test_late_arriving_rows_and_nulls_are_present(sample: Path) -> None:
    assert (
        _scalar(
            sample,
            "select count(*) from main.sale_order where create_date > date_order + interval 1 day",
        )
        > 0
    )
    assert (
        _scalar(
            sample,
            "select count(*) from main.account_move where create_date::date > invoice_date + 1",
        )
        > 0
    )
    assert _scalar(sample, "select count(*) from main.res_partner where email is null") > 0
    assert (
        _scalar(sample, "select count(*) from main.product_product where default_code is null") > 0
    )
    assert (
        _scalar(sample, "select count(*) from main.account_move where invoice_date_due is null") > 0
    )


def test_dates_end_at_the_anchor(sample: Path) -> None:
    last_order, first_order = _query(
        sample, "select max(date_order)::date, min(date_order)::date from main.sale_order"
    )[0]
    assert last_order <= ANCHOR_DATE
    assert first_order >= WINDOW_START
    for table in SOURCE_TABLES:
        latest_write = _scalar(sample, f"select max(write_date)::date from main.{table}")
        assert latest_write <= ANCHOR_DATE


def test_order_totals_equal_the_sum_of_their_latest_lines(sample: Path) -> None:
    mismatches = _scalar(
        sample,
        f"""
        select count(*)
        from {_latest("sale_order")} as o
        join (
            select order_id, sum(price_subtotal) as untaxed, sum(price_tax) as tax,
                   sum(price_total) as total
            from {_latest("sale_order_line")}
            group by order_id
        ) as l on l.order_id = o.id
        where o.amount_untaxed <> l.untaxed or o.amount_tax <> l.tax or o.amount_total <> l.total
        """,
    )
    assert mismatches == 0
    orders_without_lines = _scalar(
        sample,
        "select count(*) from main.sale_order as o "
        "where not exists (select 1 from main.sale_order_line as l where l.order_id = o.id)",
    )
    assert orders_without_lines == 0


def test_posted_payments_explain_invoice_residuals(sample: Path) -> None:
    rows = _query(
        sample,
        f"""
        select m.payment_state, count(*)
        from {_latest("account_move")} as m
        left join (
            select move_id, sum(amount) as paid
            from {_latest("account_payment")}
            where state = 'posted'
            group by move_id
        ) as p on p.move_id = m.id
        where m.move_type = 'out_invoice' and m.state = 'posted' and m.payment_state <> 'reversed'
          and coalesce(p.paid, 0) <> m.amount_total - m.amount_residual
        group by all
        """,
    )
    assert rows == []
    states = {
        s
        for (s,) in _query(sample, f"select distinct payment_state from {_latest('account_move')}")
    }
    assert {"not_paid", "partial", "paid", "reversed"} <= states


def test_invoices_follow_their_confirmed_order(sample: Path) -> None:
    mismatches = _scalar(
        sample,
        f"""
        select count(*)
        from {_latest("account_move")} as m
        join {_latest("sale_order")} as o on o.name = m.invoice_origin
        where o.partner_id <> m.partner_id or o.state not in ('sale', 'done')
           or m.amount_total <> o.amount_total
        """,
    )
    assert mismatches == 0
    refunds = _scalar(
        sample, "select count(*) from main.account_move where move_type = 'out_refund'"
    )
    assert refunds > 0


def test_names_are_unique_per_id_and_odoo_shaped(tmp_path: Path) -> None:
    # Past 99,999 orders the five-digit padding must widen, never truncate.
    path = generate(tmp_path / "erp.duckdb", lines=310_000, seed=2).path
    duplicated = _scalar(
        path,
        "select count(*) from (select name from main.sale_order "
        "group by name having count(distinct id) > 1)",
    )
    assert duplicated == 0
    assert _scalar(path, "select name from main.sale_order where id = 42 limit 1") == "S00042"
    assert _scalar(path, "select name from main.sale_order where id = 100042 limit 1") == "S100042"
    numbered = _scalar(
        path,
        "select count(*) from (select name from main.account_move where name <> '/' "
        "group by name having count(distinct id) > 1)",
    )
    assert numbered == 0
    assert (
        _scalar(
            path,
            "select count(*) from main.account_move "
            "where name <> '/' and not regexp_matches(name, '^R?INV/2026/[0-9]{5,}$')",
        )
        == 0
    )


def test_generate_refuses_to_overwrite_an_existing_source(tmp_path: Path) -> None:
    target = tmp_path / "erp.duckdb"
    generate(target, lines=300, seed=1)
    before = fingerprint(target)
    with pytest.raises(ApprovalRequired) as refused:
        generate(target, lines=60, seed=2)
    assert str(target) in refused.value.message
    assert "--force" in refused.value.message
    assert refused.value.details["path"] == str(target)
    assert fingerprint(target) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["erp.duckdb"]


def test_overwrite_replaces_an_existing_source(tmp_path: Path) -> None:
    target = tmp_path / "erp.duckdb"
    generate(target, lines=300, seed=1)
    summary = generate(target, lines=60, seed=2, overwrite=True)
    assert fingerprint(target) == fingerprint(generate(tmp_path / "ref.duckdb", 60, 2).path)
    assert summary.row_counts["sale_order_line"] < 300
    assert sorted(p.name for p in tmp_path.iterdir()) == ["erp.duckdb", "ref.duckdb"]


def test_a_source_that_appears_during_the_write_is_not_replaced(tmp_path: Path) -> None:
    """The final step links instead of renaming, so it cannot replace a file created meanwhile."""
    target = tmp_path / "erp.duckdb"
    generate(target, lines=300, seed=1)
    before = fingerprint(target)
    with pytest.raises(ApprovalRequired, match="--force"):
        writer_module.write_source(target, build_tables(60, 2), overwrite=False)
    assert fingerprint(target) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["erp.duckdb"]


def test_a_failed_write_leaves_the_previous_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "erp.duckdb"
    generate(target, lines=300, seed=1)
    before = fingerprint(target)

    def broken_write(path: Path, tables: object) -> None:
        con = duckdb.connect(str(path))
        con.execute("create table main.res_partner as select 1 as id")
        con.close()
        raise RuntimeError("disk full")

    monkeypatch.setattr(writer_module, "_write_tables", broken_write)
    with pytest.raises(RuntimeError, match="disk full"):
        generate(target, lines=300, seed=2, overwrite=True)
    assert fingerprint(target) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["erp.duckdb"]


def test_abandoned_staging_is_swept_and_a_live_one_is_kept(tmp_path: Path) -> None:
    target = tmp_path / "erp.duckdb"
    abandoned = tmp_path / ".erp.duckdb.dead1234.tmp"
    abandoned.mkdir()
    (abandoned / "erp.duckdb").write_bytes(b"half a database")
    live = tmp_path / ".erp.duckdb.live5678.tmp"
    live.mkdir()
    unrelated = tmp_path / ".other.duckdb.dead0000.tmp"
    unrelated.mkdir()
    fd = os.open(live, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # as a writer in another process holds it
        generate(target, lines=60, seed=1)
    finally:
        os.close(fd)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["erp.duckdb", live.name, unrelated.name]
    )
    assert writer_module.sweep_abandoned(target) == [live]


def test_generate_rejects_an_empty_sample(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed, match="at least 1 order line"):
        generate(tmp_path / "erp.duckdb", lines=0)
    assert not (tmp_path / "erp.duckdb").exists()


def test_source_metrics_types_and_values(sample: Path) -> None:
    metrics = source_metrics(sample)
    money = {
        "invoiced_revenue",
        "open_residual",
        "paid_amount",
        "confirmed_order_revenue",
        "confirmed_order_revenue_untaxed",
    }
    counts = {
        "open_invoices",
        "confirmed_orders",
        "confirmed_order_lines",
        "sales_days",
        "customers",
    }
    assert set(metrics) == money | counts
    assert all(isinstance(metrics[k], Decimal) for k in money)
    assert all(isinstance(metrics[k], int) for k in counts)
    # Cross-checks that hold by construction of the ERP's accounting.
    invoiced = _scalar(
        sample,
        f"select sum(amount_total) from {_latest('account_move')} "
        "where state = 'posted' and move_type = 'out_invoice' and payment_state <> 'reversed'",
    )
    assert metrics["invoiced_revenue"] == invoiced
    assert metrics["paid_amount"] + metrics["open_residual"] == invoiced
    customers = _scalar(
        sample, f"select count(*) from {_latest('res_partner')} where customer_rank > 0"
    )
    assert metrics["customers"] == customers
    assert _scalar(sample, "select count(distinct id) from main.res_partner") > customers
