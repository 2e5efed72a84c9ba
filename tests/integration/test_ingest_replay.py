"""Replay and backfill behind a mandatory dry run: refused without one, with a stale or
mismatched one, for a non-admin and in READ_ONLY (audited, nothing written); run for real
through the service, the CLI and a Dagster job."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from typer.testing import CliRunner

from orchestration.identity import Actor
from orchestration.ingestion.bronze import BronzeIngest
from orchestration.ingestion.replay import Replays
from orchestration.sample.advance import advance
from orchestration.sample.generator import generate, generate_postgres
from orchestration.sources import PostgresSource, read_source_rows
from policies.dry_runs import RunArguments, RunKind
from policies.errors import (
    DryRunExpired,
    DryRunMismatch,
    DryRunRequired,
    ModeRefused,
    NotFound,
    PermissionDenied,
)
from policies.modes import SystemMode
from policies.roles import Role
from tests.integration.test_bronze_ingest import Site, latest_per_key, make_site
from tests.pg import PgRoles

START, END = datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
CONTRACT = "erp_sale_order"


@dataclass
class World:
    site: Site
    replays: Replays
    engineer: Actor


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("replay")
    source = root / "erp.duckdb"
    generate(source, lines=300, seed=4)
    site = make_site(root, source)
    site.catalog.set_mode(SystemMode.INGESTION_READY, "ada")
    engineer, _ = site.catalog.create_principal("erin", Role.ENGINEER, created_by="ada")
    site.ingest("sale_order")
    replays = Replays(BronzeIngest(site.catalog, site.warehouse, site.source, site.work))
    try:
        yield World(site, replays, Actor(engineer))
    finally:
        site.catalog.dispose()


def args(kind: RunKind = RunKind.REPLAY, batch_size: int | None = None) -> RunArguments:
    return RunArguments(kind, CONTRACT, START, END, batch_size)


def versions(world: World) -> list[int]:
    return [v.version for v in world.site.catalog.list_versions("bronze.sale_order")]


def test_a_real_run_needs_a_fresh_dry_run_of_the_same_arguments_by_an_admin(world: World) -> None:
    before = versions(world)
    never_landed = RunArguments(RunKind.REPLAY, "erp_res_partner", START, END)
    with pytest.raises(NotFound):
        world.replays.dry_run(world.site.admin, never_landed)
    with pytest.raises(DryRunRequired):
        world.replays.run(world.site.admin, args(), None, "r1")
    info, estimate = world.replays.dry_run(world.site.admin, args())
    assert estimate.delivered > 0 and estimate.accepted == 0  # all of it is in bronze already
    assert estimate.dropped == estimate.delivered and estimate.base_version == before[-1]
    with pytest.raises(DryRunMismatch):  # other arguments
        world.replays.run(world.site.admin, args(RunKind.BACKFILL), info.record.dry_run_id, "r2")
    with pytest.raises(DryRunMismatch):
        world.replays.run(world.site.admin, args(), "dr_unknown", "r3")
    stale = world.site.catalog.dry_runs.record(args(), "ada", {}, ttl=timedelta(seconds=-1))
    with pytest.raises(DryRunExpired):
        world.replays.run(world.site.admin, args(), stale.record.dry_run_id, "r4")
    mine, _ = world.replays.dry_run(world.engineer, args())  # an engineer may look...
    with pytest.raises(PermissionDenied):  # ...but only an admin runs it
        world.replays.run(world.engineer, args(), mine.record.dry_run_id, "r5")
    world.site.catalog.set_mode(SystemMode.READ_ONLY, "ada")
    try:
        with pytest.raises(ModeRefused):
            world.replays.run(world.site.admin, args(), info.record.dry_run_id, "r6")
    finally:
        world.site.catalog.set_mode(SystemMode.INGESTION_READY, "ada")
    assert versions(world) == before, "no refusal wrote a version"
    refused = [e for e in world.site.catalog.list_audit(limit=50) if e.action == "replay_ingest"]
    assert len([e for e in refused if e.outcome == "refused"]) >= 6

    # the real run: a replay of what bronze holds changes nothing but the version number
    result = world.replays.run(world.site.admin, args(), info.record.dry_run_id, "r7")
    assert result.accepted == 0 and len(result.versions) == 1
    hashes = {
        world.site.catalog.get_version("bronze.sale_order", v).content_hash
        for v in (before[-1], result.versions[0])
    }
    assert len(hashes) == 1
    with pytest.raises(DryRunMismatch):  # each dry run allows one real run
        world.replays.run(world.site.admin, args(), info.record.dry_run_id, "r8")


def test_a_backfill_in_batches_through_the_cli_and_a_replay_through_dagster(
    installed_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagster import DagsterInstance

    from orchestration.cli import app
    from orchestration.definitions import defs
    from orchestration.run_identity import launch_tags
    from orchestration.runtime import runtime

    rt = runtime()
    generate(rt.source_path, lines=300, seed=4)
    admin, key = rt.catalog.create_principal("ada", Role.ADMIN, created_by="test")
    rt.catalog.set_mode(SystemMode.INGESTION_READY, "ada")
    monkeypatch.setenv("SPYNE_API_KEY", key)
    cli = CliRunner()

    def spyne(*argv: str) -> str:
        result = cli.invoke(app, list(argv))
        assert result.exit_code == 0, result.output
        return result.stdout

    loaded = json.loads(spyne("ingest", "run", CONTRACT, "--json"))
    assert loaded[0]["version"] == 1 and loaded[0]["rows_accepted"] > 0
    advance(rt.source_path, 2, seed=5)  # nothing loads it incrementally: the backfill does
    span = ["--start", START.isoformat(), "--end", END.isoformat(), "--batch-size", "100"]
    refused = cli.invoke(app, ["ingest", "backfill", CONTRACT, *span])
    assert refused.exit_code == 1 and "dry_run_required" in refused.output
    dry = json.loads(spyne("ingest", "backfill", CONTRACT, *span, "--dry-run", "--json"))
    assert dry["estimate"]["rows_estimated"] > 0 and dry["estimate"]["preview"]
    done = json.loads(
        spyne("ingest", "backfill", CONTRACT, *span, "--dry-run-id", dry["dry_run_id"], "--json")
    )
    assert len(done["versions"]) > 1, "one version per batch"
    newest = done["versions"][-1]
    rows = rt.warehouse.query(
        f"select * exclude (_spyne_loaded_at) from bronze__shadow.sale_order__v{newest} "
        "order by all"
    )
    assert rows == latest_per_key(read_source_rows(rt.source_path, "sale_order"))

    # the same replay as a Dagster job with typed run config, launched by the admin
    instance = DagsterInstance.ephemeral()
    job = defs.resolve_job_def("ingest_replay")
    config = {"contract": CONTRACT, "start": START.isoformat(), "end": END.isoformat()}

    def launch(extra: dict[str, object], run_id: str) -> object:
        return job.execute_in_process(
            run_config={"ops": {"replay_range": {"config": {**config, **extra}}}},
            instance=instance,
            run_id=run_id,
            tags=launch_tags(rt.catalog, admin, run_id),
            raise_on_error=False,
        )

    refused_run = launch({}, "00000000-0000-0000-0000-000000000001")
    assert not refused_run.success  # type: ignore[attr-defined]
    dry_run = launch({"dry_run": True}, "00000000-0000-0000-0000-000000000002")
    dry_id = dry_run.output_for_node("replay_range")["dry_run_id"]  # type: ignore[attr-defined]
    real = launch({"dry_run_id": dry_id}, "00000000-0000-0000-0000-000000000003")
    assert real.success  # type: ignore[attr-defined]
    replayed = real.output_for_node("replay_range")  # type: ignore[attr-defined]
    assert replayed["rows_accepted"] == 0 and replayed["versions"] == [newest + 1]

    # both are counted for Prometheus from their audit entries (the refused attempts are not)
    from prometheus_client import generate_latest

    from orchestration.alerts.metrics import registry_for

    scraped = generate_latest(registry_for(rt.catalog)).decode()
    assert "spyne_replay_count_total 1.0" in scraped
    backfilled = float(done["rows_accepted"])
    assert f'spyne_backfill_rows_total{{contract="bronze.sale_order"}} {backfilled}' in scraped


@pytest.mark.postgres
def test_a_backfill_of_a_range_from_postgres_reads_only_that_range(
    tmp_path: Path, pg_roles: PgRoles
) -> None:
    source = PostgresSource(pg_roles.owner_url)
    generate_postgres(source, lines=300, seed=4)
    site = make_site(tmp_path, source)
    try:
        site.catalog.set_mode(SystemMode.INGESTION_READY, "ada")
        site.ingest("sale_order")
        before = read_source_rows(source, "sale_order")
        newest = max(before["write_date"].to_pylist())
        advance(source, 2, seed=5)
        replays = Replays(BronzeIngest(site.catalog, site.warehouse, source, site.work))
        span = RunArguments(RunKind.BACKFILL, CONTRACT, newest.replace(tzinfo=UTC), END, 50)
        info, estimate = replays.dry_run(site.admin, span)
        after = read_source_rows(source, "sale_order")
        in_range = [w for w in after["write_date"].to_pylist() if w >= newest]
        assert estimate.delivered == len(in_range) and estimate.accepted > 0
        result = replays.run(site.admin, span, info.record.dry_run_id, "pg-backfill")
        # bronze had everything up to its load; the backfill adds the range, and only the range
        # (rows the advance wrote late, before the range's start, are not in it)
        expected = pa.concat_tables(
            [before, after.filter(pc.greater_equal(after["write_date"], newest))]
        )
        assert site.rows("sale_order", result.versions[-1]) == latest_per_key(expected)
        assert latest_per_key(expected) != latest_per_key(after), "late rows lie outside the range"
    finally:
        site.catalog.dispose()


_KILLED_BACKFILL = """
import sys, time
from datetime import datetime
from pathlib import Path
from orchestration.catalog import Catalog
from orchestration.identity import Actor
from orchestration.ingestion.bronze import BronzeIngest
from orchestration.ingestion.replay import Replays
from orchestration.lifecycle.builds import Builds
from orchestration.warehouse import DuckDBWarehouse
from policies.dry_runs import RunArguments, RunKind

real = Builds.register_build
calls = []

def register_then_stall(*args, **kwargs):
    calls.append(1)
    if len(calls) == 2:  # batch 1 committed, batch 2 built in the warehouse, not registered
        print("stalled", flush=True)
        time.sleep(120)
    return real(*args, **kwargs)

Builds.register_build = register_then_stall
catalog_url, warehouse, source, work, dry_run_id, start, end = sys.argv[1:8]
catalog = Catalog(catalog_url)
admin = next(p for p in catalog.list_principals() if p.name == "ada")
replays = Replays(BronzeIngest(catalog, DuckDBWarehouse(Path(warehouse)), Path(source), Path(work)))
arguments = RunArguments(
    RunKind.BACKFILL, "erp_sale_order", datetime.fromisoformat(start), datetime.fromisoformat(end), 100
)
replays.run(Actor(admin), arguments, dry_run_id, "killed-backfill")
"""


@pytest.mark.slow
def test_a_backfill_killed_between_batches_leaves_agreement_and_can_be_run_again(
    tmp_path: Path,
) -> None:
    """kill -9 after a batch committed and while the next one is half-built: every registered
    version is in the warehouse, the dry run is spent, and a new dry run and backfill bring
    bronze to the source, as an uninterrupted backfill does."""
    from tests.kill_support import kill_when_stalled

    source = tmp_path / "erp.duckdb"
    generate(source, lines=300, seed=4)
    site = make_site(tmp_path, source)
    try:
        site.catalog.set_mode(SystemMode.INGESTION_READY, "ada")
        site.ingest("sale_order")
        advance(source, 2, seed=5)
        replays = Replays(BronzeIngest(site.catalog, site.warehouse, site.source, site.work))
        backfill = args(RunKind.BACKFILL, batch_size=100)
        dry, _ = replays.dry_run(site.admin, backfill)
        site.catalog.dispose()
        kill_when_stalled(
            _KILLED_BACKFILL,
            f"sqlite:///{tmp_path}/catalog.db",
            str(site.warehouse.path),
            str(source),
            str(site.work),
            dry.record.dry_run_id,
            START.isoformat(),
            END.isoformat(),
        )

        registered = site.catalog.list_versions("bronze.sale_order")
        assert [v.version for v in registered] == [1, 2], "the first batch committed, alone"
        for v in registered:  # each registered version is readable where the catalog says
            assert site.warehouse.query(f"select count(*) from {v.physical_name}") == [
                (v.row_count,)
            ]
        with pytest.raises(DryRunMismatch):  # spent by the killed run: a new estimate is needed
            replays.run(site.admin, backfill, dry.record.dry_run_id, "again")
        again, _ = replays.dry_run(site.admin, backfill)
        done = replays.run(site.admin, backfill, again.record.dry_run_id, "again")
        assert site.rows("sale_order", done.versions[-1]) == latest_per_key(
            read_source_rows(source, "sale_order")
        )
    finally:
        site.catalog.dispose()
