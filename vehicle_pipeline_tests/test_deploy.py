"""deploy/: the Docker image, the docker-compose deployment (DockerRunLauncher) and the Helm values for
Dagster's chart (K8sRunLauncher). No container engine or cluster runs here: the instance configs are loaded
by Dagster itself (the compose one against a real Postgres), the run launchers and run coordinators built from
them, and the files checked against each other (image, ports, network, workspace, secrets from the env)."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.instance.config import ConcurrencyConfig, dagster_instance_config
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster._serdes import ConfigurableClassData
from dagster_docker import DockerRunLauncher
from dagster_k8s import K8sRunLauncher

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
RELEASE, NAMESPACE = "vehicle-pipeline", "data"


def _yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def _dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) per instruction, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def _dagster_home() -> str:
    for word, rest in _dockerfile():
        if word == "ENV" and "DAGSTER_HOME=" in rest:
            return re.search(r"DAGSTER_HOME=(\S+)", rest).group(1)
    raise AssertionError("the Dockerfile sets no DAGSTER_HOME")


# --------------------------------------------------------------------------------------------------
# The image


def test_the_dockerfile_copies_what_exists_and_installs_the_deploy_extra():
    steps = _dockerfile()
    for word, rest in steps:
        if word == "COPY":
            *sources, _ = shlex.split(rest)
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: not in the build context"
    installs = " ".join(rest for word, rest in steps if word == "RUN" and "pip install" in rest)
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert '".[deploy]"' in installs and "deploy" in extras
    assert {"dagster-docker", "dagster-k8s"} <= {re.split(r"[=<>\[]", r)[0] for r in extras["deploy"]}
    launchers = {re.split(r"==", r)[0]: r.split("==")[1] for r in extras["deploy"]}
    dagster_version = next(d.split("==")[1] for d in tomllib.loads((ROOT / "pyproject.toml").read_text())
                           ["project"]["dependencies"] if d.startswith("dagster=="))
    # Dagster's libraries are versioned 0.(major+16).patch beside dagster major.minor.patch (1.13.27 → 0.29.27).
    major, minor, patch = dagster_version.split(".")
    assert set(launchers.values()) == {f"0.{int(minor) + 16}.{patch}"}
    cmd = next(rest for word, rest in steps if word == "CMD")
    assert "vehicle_pipeline.definitions" in cmd


# --------------------------------------------------------------------------------------------------
# docker-compose


@pytest.fixture
def compose() -> dict:
    return _yaml(DEPLOY / "docker-compose.yaml")


def test_the_compose_instance_loads_with_the_docker_run_launcher(db_url, monkeypatch, compose):
    """Dagster loads deploy/docker/dagster.yaml as the containers do (storage from DAGSTER_PG_URL, here a test
    database): runs go to DockerRunLauncher on the compose network with the environment run containers need."""
    monkeypatch.delenv("VEHICLE_PIPELINE_DAGSTER_PG_URL", raising=False)
    monkeypatch.setenv("DAGSTER_PG_URL", db_url)
    instance = dg.DagsterInstance.from_config(str(DEPLOY / "docker"))
    try:
        launcher = instance.run_launcher
        assert isinstance(launcher, DockerRunLauncher)
        assert launcher.networks == [compose["networks"]["vehicle_pipeline"]["name"]]
        # Each variable handed to run containers is one the compose services set (secrets among them).
        service_env = compose["services"]["daemon"]["environment"]
        assert set(launcher.env_vars) <= set(service_env)
        assert {"DATABASE_URL", "DAGSTER_PG_URL"} <= set(launcher.env_vars)
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        concurrency = instance.get_concurrency_config()
        limits = {limit["key"]: limit["limit"] for limit in concurrency.run_queue_config.tag_concurrency_limits}
        assert limits == {"vehicle_pipeline/drain": 4, "vehicle_pipeline/source": 1}
        assert concurrency.pool_config.default_pool_limit == 1
        assert instance.get_runs() == []  # the storage is a working database
    finally:
        instance.dispose()


def test_compose_wires_code_server_webserver_daemon_and_postgres(compose):
    services = compose["services"]
    assert {"postgres", "code", "webserver", "daemon"} <= set(services)
    workspace = _yaml(DEPLOY / "docker" / "workspace.yaml")
    [server] = [entry["grpc_server"] for entry in workspace["load_from"]]
    code_cmd = services["code"]["command"]
    assert server["host"] == "code" and str(server["port"]) == code_cmd[code_cmd.index("--port") + 1]
    home = _dagster_home()
    for name in ("webserver", "daemon"):
        cmd = services[name]["command"]
        assert cmd[cmd.index("--workspace") + 1] == f"{home}/workspace.yaml", name
    # Runs start from the image the code server runs, on the network every service is on.
    assert services["code"]["environment"]["DAGSTER_CURRENT_IMAGE"] == services["code"]["image"]
    for name in ("code", "webserver", "daemon", "postgres"):
        assert services[name]["networks"] == ["vehicle_pipeline"], name
    assert "/var/run/docker.sock:/var/run/docker.sock" in services["daemon"]["volumes"]
    assert services["webserver"]["ports"] == ["127.0.0.1:3000:3000"]  # not on every interface of the host
    # Dagster's storage database is the one the init script creates.
    dagster_db = services["daemon"]["environment"]["DAGSTER_PG_URL"].rsplit("/", 1)[1]
    init = (DEPLOY / "docker" / "initdb" / "10-dagster-database.sql").read_text()
    assert f"CREATE DATABASE {dagster_db};" in init


def test_no_secret_is_written_into_the_deployment_files():
    for path in [DEPLOY / "docker-compose.yaml", DEPLOY / "helm" / "values.yaml", DEPLOY / "docker" / "dagster.yaml"]:
        text = path.read_text()
        for match in re.finditer(r"(?im)^\s*[\w-]*password:\s*(\S+)", text):
            assert match.group(1).startswith("${"), f"{path.name}: {match.group(0)}"
        for url in re.findall(r"postgresql://[^\s\"']+", text):
            if "@" in url:
                credentials = url.split("://", 1)[1].split("@", 1)[0]
                assert ":" not in credentials or "${" in credentials or credentials.endswith(":…"), f"{path.name}: {url}"


# --------------------------------------------------------------------------------------------------
# Helm


def render_chart_instance(values: dict) -> dict:
    """The instance config (dagster.yaml) Dagster's chart renders from these values, for the parts the values
    set: what the chart's templates (configmap-instance.yaml, helpers/instance/*.tpl) do with them."""
    glob, pg = values["global"], values["postgresql"]
    pg_config = {"postgres_db": {"username": pg["postgresqlUsername"], "password": {"env": "DAGSTER_PG_PASSWORD"},
                                 "hostname": pg["postgresqlHost"], "db_name": pg["postgresqlDatabase"],
                                 "port": pg["service"]["port"], "params": {}}}
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    k8s = values["runLauncher"]["config"]["k8sRunLauncher"]
    run_k8s = k8s.get("runK8sConfig") or {}
    launcher = {
        "load_incluster_config": k8s["loadInclusterConfig"],
        "job_namespace": k8s.get("jobNamespace") or NAMESPACE,
        "image_pull_policy": k8s["imagePullPolicy"],
        "service_account_name": glob["serviceAccountName"],
        "dagster_home": glob["dagsterHome"],
        "instance_config_map": f"{RELEASE}-instance",
        "postgres_password_secret": glob["postgresqlSecretName"],
        "env_secrets": [s["name"] for s in k8s.get("envSecrets", []) if "name" in s],
        "env_vars": k8s.get("envVars"),
        "labels": k8s.get("labels"),
        "run_k8s_config": {"container_config": run_k8s.get("containerConfig"), "pod_spec_config": run_k8s.get("podSpecConfig")},
    }
    qrc = values["dagsterDaemon"]["runCoordinator"]
    assert qrc["enabled"] and qrc["type"] == "QueuedRunCoordinator"
    queued = (qrc.get("config") or {}).get("queuedRunCoordinator") or {}
    monitoring = values["dagsterDaemon"]["runMonitoring"]
    pools, runs = values["concurrency"]["pools"], values["concurrency"]["runs"]
    return {
        "run_storage": {"module": "dagster_postgres.run_storage", "class": "PostgresRunStorage", "config": pg_config},
        "event_log_storage": {"module": "dagster_postgres.event_log", "class": "PostgresEventLogStorage", "config": pg_config},
        "schedule_storage": {"module": "dagster_postgres.schedule_storage", "class": "PostgresScheduleStorage", "config": pg_config},
        "run_launcher": {"module": "dagster_k8s", "class": "K8sRunLauncher",
                         "config": {k: v for k, v in launcher.items() if v is not None}},
        "run_coordinator": {"module": "dagster.core.run_coordinator", "class": "QueuedRunCoordinator",
                            "config": {k: v for k, v in (("max_concurrent_runs", queued.get("maxConcurrentRuns")),
                                       ("tag_concurrency_limits", queued.get("tagConcurrencyLimits"))) if v is not None}},
        "concurrency": {"pools": {"default_limit": pools["defaultLimit"], "granularity": pools["granularity"]},
                        "runs": {"max_concurrent_runs": runs["maxConcurrentRuns"],
                                 "tag_concurrency_limits": runs["tagConcurrencyLimits"]}},
        "run_monitoring": {"enabled": monitoring["enabled"], "start_timeout_seconds": monitoring["startTimeoutSeconds"],
                           "poll_interval_seconds": monitoring["pollIntervalSeconds"]},
        "telemetry": {"enabled": values["telemetry"]["enabled"]},
    }


def test_the_helm_values_give_a_valid_instance_with_the_k8s_run_launcher(tmp_path):
    values = _yaml(DEPLOY / "helm" / "values.yaml")
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(render_chart_instance(values)))
    config, _ = dagster_instance_config(str(tmp_path))  # Dagster's own schema check of the whole instance
    launcher_data = config["run_launcher"]
    # In a cluster the launcher reads its service account; here the same config points at a kubeconfig.
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "test",
        "clusters": [{"name": "test", "cluster": {"server": "https://127.0.0.1:6443"}}],
        "users": [{"name": "test", "user": {"token": "unused"}}],
        "contexts": [{"name": "test", "context": {"cluster": "test", "user": "test"}}]}))
    launcher = ConfigurableClassData(
        launcher_data["module"], launcher_data["class"],
        yaml.safe_dump({**launcher_data["config"], "load_incluster_config": False, "kubeconfig_file": str(kubeconfig)}),
    ).rehydrate(as_type=K8sRunLauncher)
    assert launcher.job_namespace == NAMESPACE
    assert launcher.instance_config_map == f"{RELEASE}-instance"
    assert launcher.env_secrets == ["vehicle-pipeline-env"]  # DATABASE_URL reaches every run pod from the secret
    assert launcher.run_k8s_config["container_config"]["resources"]["limits"]["memory"] == "2Gi"
    coordinator_data = config["run_coordinator"]
    coordinator = ConfigurableClassData(coordinator_data["module"], coordinator_data["class"],
                                        yaml.safe_dump(coordinator_data.get("config") or {})).rehydrate(as_type=QueuedRunCoordinator)
    run_queue = ConcurrencyConfig.from_concurrency_settings(config["concurrency"],
                                                            coordinator.get_run_queue_config()).run_queue_config
    limits = {limit["key"]: limit["limit"] for limit in run_queue.tag_concurrency_limits}
    assert run_queue.max_concurrent_runs == 8
    assert limits == {"vehicle_pipeline/drain": 4, "vehicle_pipeline/source": 1}


def test_the_helm_user_deployment_runs_the_code_location_of_the_image():
    values = _yaml(DEPLOY / "helm" / "values.yaml")
    [deployment] = values["dagster-user-deployments"]["deployments"]
    args = deployment["dagsterApiGrpcArgs"]
    assert args[args.index("--module-name") + 1] == "vehicle_pipeline.definitions"
    assert {"name": "vehicle-pipeline-env"} in deployment["envSecrets"]
    assert values["global"]["dagsterHome"]  # the chart mounts its instance config map there
    assert values["postgresql"]["enabled"] is False and values["generatePostgresqlPasswordSecret"] is False
