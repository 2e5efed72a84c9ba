"""`spyne sample advance` on both source kinds: deterministic, every kind of change present,
and all-or-nothing when the process is killed in the middle."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from typer.testing import CliRunner

from orchestration.cli import app
from orchestration.sample.advance import advance
from orchestration.sample.generator import SOURCE_TABLES, generate, generate_postgres
from orchestration.sources import PostgresSource, SourceLocation, read_source_rows
from policies.errors import NotFound, ValidationFailed
from policies.roles import Role
from tests.pg import PgRoles

REPO = Path(__file__).resolve().parents[2]


def content(source: SourceLocation) -> dict[str, pa.Table]:
    """Every table in a canonical row order (an order-independent comparison)."""
    out = {}
    for table in SOURCE_TABLES:
        rows = read_source_rows(source, table)
        out[table] = rows.sort_by([(c, "ascending") for c in rows.column_names])
    return out


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def make_source(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    """A factory of fresh sample sources of the parametrised kind."""
    made: list[object] = []

    def make(lines: int = 400, seed: int = 1) -> SourceLocation:
        if request.param == "duckdb":
            path = tmp_path / f"erp{len(made)}.duckdb"
            generate(path, lines=lines, seed=seed)
            made.append(path)
            return path
        roles: PgRoles = request.getfixturevalue("pg_roles") if not made else made[0]  # type: ignore[assignment]
        if not made:
            made.append(roles)
        # one database per test: a second source is a second schema in it
        source = PostgresSource(roles.owner_url, schema=f"erp{len(made)}")
        made.append(source)
        generate_postgres(source, lines=lines, seed=seed)
        return source

    return make


def test_the_same_seed_gives_the_same_days(make_source) -> None:  # type: ignore[no-untyped-def]
    a, b, c = make_source(), make_source(), make_source()
    advance(a, 3, seed=5)
    advance(b, 3, seed=5)
    for _ in range(3):
        advance(c, 1, seed=5)  # one day at a time is the same as three at once
    assert content(a) == content(b) == content(c)
    other = make_source()
    advance(other, 3, seed=6)
    assert content(other) != content(a)


def test_every_kind_of_change_is_present(make_source) -> None:  # type: ignore[no-untyped-def]
    source = make_source()
    before = content(source)
    summary = advance(source, 2, seed=9)
    after = content(source)
    assert len(summary.days) == 2 and all(d.weekday() < 5 for d in summary.days)
    clock = max(pc.max(before[t]["write_date"]).as_py() for t in ("sale_order", "res_partner"))

    orders_before = set(before["sale_order"]["id"].to_pylist())
    new = after["sale_order"].filter(
        pc.invert(pc.is_in(after["sale_order"]["id"], pa.array(orders_before)))
    )
    assert new.num_rows == summary.new_orders > 0
    late = new.filter(pc.less(new["write_date"], pa.scalar(clock, pa.timestamp("us"))))
    # day 1's late orders precede the newest row held before the run (day 2's precede day 1's)
    assert 0 < late.num_rows <= summary.late_orders, "late rows: written before the newest row"

    updated = after["sale_order"].filter(
        pc.and_(
            pc.is_in(after["sale_order"]["id"], pa.array(orders_before)),
            pc.greater(after["sale_order"]["write_date"], pa.scalar(clock, pa.timestamp("us"))),
        )
    )
    partners = after["res_partner"].filter(
        pc.greater(after["res_partner"]["write_date"], pa.scalar(clock, pa.timestamp("us")))
    )
    assert updated.num_rows > 0 and partners.num_rows > 0, (
        "updates in place, with a later write_date"
    )
    assert after["res_partner"].num_rows == before["res_partner"].num_rows

    lines = after["sale_order_line"]
    known = set(before["sale_order_line"]["id"].to_pylist())
    new_lines = lines.filter(pc.invert(pc.is_in(lines["id"], pa.array(known))))
    assert new_lines.num_rows == summary.new_lines + summary.duplicated_lines
    rows = new_lines.to_pylist()
    twice = [r for r in rows if rows.count(r) == 2]
    assert len(twice) == 2 * summary.duplicated_lines > 0, "the same rows delivered twice"
    totals = pc.sum(
        new.filter(pc.is_in(new["id"], new_lines["order_id"]))["amount_untaxed"]
    ).as_py()
    unique_lines = pa.Table.from_pylist([dict(t) for t in {tuple(r.items()) for r in rows}])
    assert totals == pc.sum(unique_lines["price_subtotal"]).as_py(), "orders equal their lines"


@pytest.mark.postgres
def test_both_source_kinds_advance_alike(pg_roles: PgRoles, tmp_path: Path) -> None:
    file, pg = tmp_path / "erp.duckdb", PostgresSource(pg_roles.owner_url)
    generate(file, lines=300, seed=2)
    generate_postgres(pg, lines=300, seed=2)
    advance(file, 4, seed=11)
    advance(pg, 4, seed=11)
    assert content(file) == content(pg)


def test_refusals_are_typed(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        advance(tmp_path / "missing.duckdb", 1)
    path = tmp_path / "erp.duckdb"
    generate(path, lines=50, seed=1)
    with pytest.raises(ValidationFailed):
        advance(path, 0)


_KILLED = """
import sys, time
import orchestration.sample.advance as adv
from orchestration.sources import PostgresSource
from pathlib import Path

real = adv.apply_changes

def stalled(session, changes):
    real(session, changes)  # every change written, the transaction not yet committed
    print("applied", flush=True)
    time.sleep(120)

adv.apply_changes = stalled
target = sys.argv[1]
source = PostgresSource(target, schema=sys.argv[2]) if target.startswith("postgresql") else Path(target)
adv.advance(source, 3, seed=4)
"""


def test_a_killed_advance_leaves_the_source_as_it_was(make_source) -> None:  # type: ignore[no-untyped-def]
    source, twin = make_source(), make_source()
    before = content(source)
    pg = isinstance(source, PostgresSource)
    argv = [source.url, source.schema] if pg else [str(source), ""]
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_KILLED), *argv],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "applied"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert content(source) == before
    advance(source, 3, seed=4)  # and the next run goes through as if nothing happened
    advance(twin, 3, seed=4)
    assert content(source) == content(twin)


def test_cli_advances_the_configured_source(
    installed_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestration.runtime import runtime

    _, engineer = runtime().catalog.create_principal("eng", Role.ENGINEER, created_by="test")
    _, analyst = runtime().catalog.create_principal("ana", Role.ANALYST, created_by="test")
    path = tmp_path / "erp.duckdb"
    generate(path, lines=80, seed=1)
    monkeypatch.setenv("SPYNE_SOURCE_PATH", str(path))
    monkeypatch.setenv("SPYNE_API_KEY", analyst)
    before = content(path)
    result = CliRunner().invoke(app, ["sample", "advance", "--days", "2", "--seed", "3"])
    assert result.exit_code == 1 and "permission_denied" in result.output
    assert content(path) == before
    monkeypatch.setenv("SPYNE_API_KEY", engineer)
    result = CliRunner().invoke(app, ["sample", "advance", "--days", "2", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert "late orders" in result.output and content(path) != before
