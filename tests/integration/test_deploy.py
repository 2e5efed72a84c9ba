"""The deployment files: the Helm values pass the chart's own schema, agree with the instance
Spyne configures, take secrets only from Kubernetes secrets, and name the location the image
serves; the code location loads in prod with fake credentials."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from orchestration.dagster_instance import instance_config
from policies.settings import settings_from_mapping

ROOT = Path(__file__).resolve().parents[2]
HELM = ROOT / "deploy" / "helm"
K8S_URL = "https://kubernetesjsonschema.dev/v1.18.0/_definitions.json"


def _validator() -> jsonschema.Draft7Validator:
    schema = json.loads((HELM / "values.schema.json").read_text())
    k8s = json.loads((HELM / "kubernetes-definitions.json").read_text())

    def retrieve(uri: str) -> Resource[Any]:
        if uri != K8S_URL:
            raise LookupError(f"the chart's schema refers to {uri}, which is not kept here")
        return Resource.from_contents(k8s, default_specification=DRAFT7)

    return jsonschema.Draft7Validator(schema, registry=Registry(retrieve=retrieve))


def _values() -> dict[str, Any]:
    return yaml.safe_load((HELM / "values.yaml").read_text())


def _errors(values: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in _validator().iter_errors(values)
    ]


def _deployment(values: dict[str, Any]) -> dict[str, Any]:
    (spyne,) = values["dagster-user-deployments"]["deployments"]
    return spyne


def test_values_pass_the_charts_schema() -> None:
    assert _errors(_values()) == []


@pytest.mark.parametrize(
    ("where", "change"),
    [
        ("launcher", lambda v: v["runLauncher"].update(type="K8sRunLaunchr")),
        ("coordinator", lambda v: v["dagsterDaemon"].pop("runCoordinator")),
        ("unknown key", lambda v: v["dagsterDaemon"].update(runQueue={})),
        ("env without name", lambda v: _deployment(v)["env"].append({"value": "x"})),
        (
            "secret ref without key",
            lambda v: _deployment(v)["env"][-1]["valueFrom"]["secretKeyRef"].pop("key"),
        ),
        ("mount without path", lambda v: _deployment(v)["volumeMounts"][0].pop("mountPath")),
        ("k8s launcher config", lambda v: v["runLauncher"]["config"].pop("k8sRunLauncher")),
        (
            "tag limit",
            lambda v: v["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"][
                "tagConcurrencyLimits"
            ][0].pop("limit"),
        ),
    ],
)
def test_the_schema_catches_mistakes(where: str, change: Any) -> None:
    broken = copy.deepcopy(_values())
    change(broken)
    assert _errors(broken), f"a broken {where} passed the schema"


def test_every_remote_reference_of_the_schema_resolves_offline() -> None:
    text = (HELM / "values.schema.json").read_text()
    k8s = json.loads((HELM / "kubernetes-definitions.json").read_text())["definitions"]
    for ref in sorted(
        set(re.findall(r'"\$ref": "' + re.escape(K8S_URL) + r'#/definitions/([^"/]+)', text))
    ):
        assert ref in k8s, ref


def test_queue_and_run_retries_are_the_instance_config(tmp_path: Path) -> None:
    s = settings_from_mapping({"SPYNE_ENV": "local"}, str(tmp_path))
    config = instance_config(s)
    coordinator, retries = config["run_coordinator"], config["run_retries"]
    assert isinstance(coordinator, dict) and isinstance(retries, dict)
    assert coordinator["class"] == "QueuedRunCoordinator"
    queue = coordinator["config"]
    daemon = _values()["dagsterDaemon"]
    assert daemon["runCoordinator"]["type"] == "QueuedRunCoordinator"
    chart = daemon["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert chart["maxConcurrentRuns"] == queue["max_concurrent_runs"]
    assert chart["tagConcurrencyLimits"] == queue["tag_concurrency_limits"]
    assert chart["dequeueIntervalSeconds"] == queue["dequeue_interval_seconds"]
    assert daemon["runRetries"] == {
        "enabled": retries["enabled"],
        "maxRetries": retries["max_retries"],
        "retryOnAssetOrOpFailure": retries["retry_on_asset_or_op_failure"],
    }


def test_secrets_come_only_from_kubernetes_secrets() -> None:
    values = _values()
    env = {e["name"]: e for e in _deployment(values)["env"]}
    for name, key in (("SPYNE_SERVICE_KEY", "service-key"), ("SPYNE_CATALOG_URL", "catalog-url")):
        assert "value" not in env[name]
        assert env[name]["valueFrom"]["secretKeyRef"] == {"name": "spyne-secrets", "key": key}
    assert env["SPYNE_ENV"]["value"] == "prod"
    assert values["postgresql"]["postgresqlPassword"] == ""
    assert values["generatePostgresqlPasswordSecret"] is False
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert _deployment(values)["includeConfigInLaunchedRuns"] == {"enabled": True}
    text = (HELM / "values.yaml").read_text()
    assert not re.search(r"spy_[A-Za-z0-9_-]{8,}|postgresql://[^\s]*:[^\s@]+@", text)


def test_the_image_serves_the_location_the_chart_names() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    deployment = _deployment(_values())
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", dockerfile, re.M).group(1))  # type: ignore[union-attr]
    assert cmd[cmd.index("--module-name") + 1] == deployment["dagsterApiGrpcArgs"][1]
    assert deployment["dagsterApiGrpcArgs"] == ["--module-name", "orchestration.definitions"]
    assert cmd[cmd.index("--port") + 1] == str(deployment["port"])
    for source in re.findall(r"^COPY (.+) \S+$", dockerfile, re.M):
        for path in source.split():
            assert (ROOT / path).exists(), path
    assert "--target prod" in dockerfile
    lock = (ROOT / "requirements.lock").read_text()
    assert re.search(r"^dagster-k8s==0\.29\.", lock, re.M) and re.search(
        r"^dagster-postgres==", lock, re.M
    )
    from dagster_k8s import K8sRunLauncher  # the run pods load the chart's instance with it

    assert K8sRunLauncher.__name__ == "K8sRunLauncher"


@pytest.mark.slow
def test_the_code_location_loads_in_prod_with_fake_credentials(tmp_path: Path) -> None:
    """As the image does: parse the dbt project for the prod target, then load the location."""
    project = tmp_path / "dbt_project"
    shutil.copytree(ROOT / "dbt_project", project, ignore=shutil.ignore_patterns("target", "logs"))
    key_file = tmp_path / "key.json"
    key_file.write_text(json.dumps({"type": "service_account", "project_id": "fake"}))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SPYNE_", "DAGSTER_"))},
        "SPYNE_ENV": "prod",
        "SPYNE_HOME": str(tmp_path / "home"),
        "SPYNE_BQ_PROJECT": "fake-project",
        "SPYNE_CATALOG_URL": "postgresql://spyne_app:fake@catalog.invalid:5432/spyne",
        "SPYNE_SERVICE_KEY": "spy_fake_service_key",
        "SPYNE_ORG": "acme",
        "GOOGLE_APPLICATION_CREDENTIALS": str(key_file),
        "SPYNE_DBT_PROJECT_DIR": str(project),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
    }
    (tmp_path / "dagster_home").mkdir()
    bin_dir = Path(sys.executable).parent
    parse = subprocess.run(
        [
            str(bin_dir / "dbt"),
            "parse",
            "--quiet",
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(project),
            "--target",
            "prod",
        ],
        env={**env, "SPYNE_BQ_PROJECT": "build-parse"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert parse.returncode == 0, parse.stdout + parse.stderr
    assert (project / "target" / "manifest.json").exists()
    loaded = subprocess.run(
        [str(bin_dir / "dagster"), "definitions", "validate", "-m", "orchestration.definitions"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    probe = (
        "import json, orchestration.definitions as d; "
        "print(json.dumps({'jobs': sorted(j.name for j in d.defs.resolve_all_job_defs()), "
        "'sensors': [s.name for s in d.defs.sensors], "
        "'tags': d.defs.resolve_job_def('spyne_daily').tags}))"
    )
    shown = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    facts = json.loads(shown.stdout.strip().splitlines()[-1])
    assert "spyne_daily" in facts["jobs"] and facts["sensors"][0] == "spyne_dead_letters"
    assert {
        "spyne_alerts",
        "spyne_source_drift",
        "spyne_run_recovered",
        "spyne_freshness",
    } <= set(facts["sensors"])
    assert facts["tags"]["spyne/org"] == "acme"
