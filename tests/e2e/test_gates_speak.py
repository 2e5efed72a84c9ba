"""A failing dbt test fails the gate of its own table, not the build of its layer.

End to end on real DuckDB + dbt + Dagster + Great Expectations: one NULL in one source row
reaches silver.customers, whose not_null dbt test fails. The other silver tables still get
their gates and publish; customers keeps its ACTIVE version, with a failed gate that names the
test in the catalog, the audit, `spyne tables history` and the Dagster check.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from dagster import AssetCheckKey, AssetKey, DagsterEventType, DagsterInstance
from typer.testing import CliRunner

pytestmark = pytest.mark.slow

FAILING_TEST = "not_null_customers_is_company"
LATEST_CUSTOMER = """
    select id, write_date from (
        select id, write_date, customer_rank,
               row_number() over (partition by id order by write_date desc) as rn
        from res_partner
    ) where rn = 1 and customer_rank > 0
    order by id
    limit 1
"""


def test_a_failing_dbt_test_fails_its_table_gate_and_the_layer_still_publishes(
    spyne_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orchestration.cli import app
    from orchestration.dagster_instance import run_job, workspace_location
    from orchestration.demo import run_demo
    from orchestration.identity import local_admin_key_file
    from orchestration.runtime import runtime
    from policies.roles import Role

    instance = DagsterInstance.ephemeral()
    assert run_demo(lines=400, seed=8, instance=instance).ok
    rt = runtime()
    _, service_key = rt.catalog.create_principal("dagster", Role.ENGINEER, "test")
    monkeypatch.setenv("SPYNE_SERVICE_KEY", service_key)  # runs from the UI act as it
    silver = sorted(t.name for t in rt.catalog.list_tables() if t.name.startswith("silver."))
    assert len(silver) == 6 and all(rt.catalog.get_table(t).active_version == 1 for t in silver)

    # one source row: the latest version of one customer loses its is_company flag (the ERP
    # writes that change as a new version of the row, with a later write_date)
    with duckdb.connect(str(rt.source_path)) as con:
        row = con.execute(LATEST_CUSTOMER).fetchone()
        assert row is not None
        con.execute(
            "update res_partner set is_company = null, write_date = (select max(write_date) "
            "from res_partner) + interval 1 hour where id = ? and write_date = ?",
            row,
        )

    with workspace_location(instance) as location:
        bronze = run_job(instance, location, "bronze_layer")
        assert bronze.is_success  # bronze does not test is_company: v2 passes and publishes
        assert rt.catalog.get_table("bronze.res_partner").active_version == 2
        run = run_job(instance, location, "silver_layer")

    # the run says something failed (the blocking check), after every table got its decision
    assert not run.is_success
    for name in silver:
        table, newest = rt.catalog.get_table(name), rt.service().version(name)
        assert newest.version == 2, name
        if name == "silver.customers":
            assert newest.gate_status == "failed"
            assert table.active_version == 1, "a failed gate leaves the canonical view alone"
            assert (newest.gate_details or {})["dbt_failures"] == [FAILING_TEST]
        else:
            assert newest.gate_status == "passed", name
            assert table.active_version == 2, f"{name} published despite customers' failure"

    # the audit has the failed gate decision, naming the test
    decisions = [
        e
        for e in rt.catalog.list_audit(limit=200, target="silver.customers")
        if e.action == "gate_decision" and e.details.get("version") == 2
    ]
    assert [d.details["status"] for d in decisions] == ["failed"]
    assert FAILING_TEST in json.dumps(decisions[0].details)

    # so does the Dagster check of the table's gate
    gates = [
        e.dagster_event.event_specific_data
        for e in instance.all_logs(run.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION)
        if e.dagster_event and e.dagster_event.event_specific_data.check_name == "ge_gate"
    ]
    verdicts = {g.asset_key.path[1]: g.passed for g in gates}
    assert verdicts == {name.split(".")[1]: name != "silver.customers" for name in silver}
    (customers,) = [g for g in gates if g.asset_key.path[1] == "customers"]
    assert FAILING_TEST in json.dumps(customers.metadata["failed_dbt_tests"].value)

    # and `spyne tables history`
    monkeypatch.setenv("SPYNE_API_KEY", local_admin_key_file(spyne_home).read_text().strip())
    shown = CliRunner().invoke(app, ["tables", "history", "silver.customers", "--json"])
    assert shown.exit_code == 0, shown.output
    history = json.loads(shown.output)
    assert [(v["version"], v["gate"]) for v in history["versions"]] == [
        (1, "passed"),
        (2, "failed"),
    ]

    # the gate asked again on its own (as from the UI) tests the version again: still failed
    from orchestration.definitions import defs

    gate = AssetCheckKey(AssetKey(["silver", "customers", "shadow"]), "ge_gate")
    again = (
        defs.resolve_job_def("silver_layer")
        .get_subset(asset_selection=set(), asset_check_selection={gate})
        .execute_in_process(instance=instance, raise_on_error=False)
    )
    assert not again.success
    newest = rt.service().version("silver.customers")
    assert (newest.version, newest.gate_status) == (2, "failed")
    assert (newest.gate_details or {})["dbt_failures"] == [FAILING_TEST]
    assert rt.catalog.get_table("silver.customers").active_version == 1
