"""End to end on a real single-node Docker Swarm that the test creates (`docker swarm init` on loopback) and
leaves again, even on failure: `afc swarm deploy` of the 2.10.4 Celery stack from the stand-in images with 2
workers (image built with the DAGs baked in) → healthy → a DAG run succeeds on a worker → no secret in the
services' specs, no bind mount → `afc swarm scale workers 3` → `afc swarm rm` (volumes kept) → `--volumes`.

A machine that cannot run a swarm fails this test with Docker's own message: it is never skipped."""
from __future__ import annotations

import json
import re
import shutil
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.test_stack import json_output
from tests.helpers import afc, docker, standin_flags, wait_for

DAG_FILE = Path(__file__).parent / "dags" / "afc_e2e.py"
PORT = 18510
SECRETS = ("_AIRFLOW_WWW_USER_PASSWORD", "AFC_POSTGRES_PASSWORD", "AFC_FERNET_KEY", "AFC_WEB_SECRET_KEY")


@pytest.fixture(scope="module")
def single_node_swarm():
    """A swarm on this engine for the module's tests; one the test created is left again at the end."""
    state = docker("info", "--format", "{{.Swarm.LocalNodeState}}").stdout.strip()
    networks = set(docker("network", "ls", "--format", "{{.Name}}").stdout.split())
    created = False
    if state != "active":
        done = docker("swarm", "init", "--advertise-addr", "127.0.0.1", check=False)
        if done.returncode != 0:
            pytest.fail(f"this machine cannot run a swarm: `docker swarm init --advertise-addr 127.0.0.1` exited "
                        f"{done.returncode}: {done.stderr.strip()}", pytrace=False)
        created = True
    try:
        yield
    finally:
        if created:
            left = docker("swarm", "leave", "--force", check=False)
            assert left.returncode == 0, f"docker swarm leave --force failed: {left.stderr}"
            if "docker_gwbridge" not in networks:  # created by `swarm init`, not removed by `swarm leave`
                docker("network", "rm", "docker_gwbridge", check=False)


def env_values(project: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in (project / ".env").read_text().splitlines()
                if "=" in line and not line.startswith("#"))


def container_of(stack: str, service: str) -> str:
    ids = docker("ps", "-q", "--filter", f"label=com.docker.swarm.service.name={stack}_{service}").stdout.split()
    assert ids, f"no running container of {stack}_{service}"
    return ids[0]


def airflow(stack: str, *args: str) -> str:
    done = docker("exec", container_of(stack, "scheduler"), "airflow", *args, check=False)
    return done.stdout if done.returncode == 0 else ""


def run_states(stack: str) -> list[str]:
    return [run.get("state") for run in json_output(airflow(stack, "dags", "list-runs", "-d", "afc_e2e", "-o", "json"))]


def task_logs(stack: str) -> str:
    done = docker("exec", container_of(stack, "scheduler"), "bash", "-c",
                  "find /opt/airflow/logs -path '*task_id=consume*' -name '*.log' -exec cat {} +", check=False)
    return done.stdout


def worker_hostnames(stack: str) -> set[str]:
    ids = docker("ps", "-q", "--filter", f"label=com.docker.swarm.service.name={stack}_worker").stdout.split()
    return {docker("inspect", "-f", "{{.Config.Hostname}}", cid).stdout.strip() for cid in ids}


def stack_services(stack: str) -> list[dict]:
    ids = docker("service", "ls", "-q", "--filter", f"label=com.docker.stack.namespace={stack}").stdout.split()
    return json.loads(docker("service", "inspect", *ids).stdout) if ids else []


@pytest.mark.parametrize("version", ["2.10.4", "3.3.2"])
@pytest.mark.parametrize("executor", ["celery", "local"])
def test_stack_files_pass_the_docker_cli_loader(tmp_path, version, executor):
    """What `docker stack deploy` would parse: every variant, with and without the routing mesh."""
    project = tmp_path / "loader"
    flower = ["--flower"] if executor == "celery" else []  # Flower with the LocalExecutor is refused
    afc("init", str(project), *standin_flags(version), "--executor", executor, *flower, check=True)
    for extra in ([], ["--routing-mesh"]):
        path = tmp_path / "stack.yaml"
        path.write_text(afc("swarm", "config", *extra, project=project, check=True).stdout)
        resolved = docker("stack", "config", "--compose-file", str(path)).stdout
        assert "replicated-job" in resolved and "$$" not in resolved


def test_swarm_deploy_run_scale_rm(tmp_path, single_node_swarm):
    project = tmp_path / "e2e-swarm"
    stack = "e2e-swarm-swarm"
    afc("init", str(project), *standin_flags("2.10.4"), "--executor", "celery", "--workers", "2",
        "--port", str(PORT), check=True)
    shutil.copy(DAG_FILE, project / "dags" / DAG_FILE.name)
    image = ""
    try:
        missing = afc("swarm", "deploy", "--image", "afc-e2e-missing/airflow:2.10.4", "--timeout", "300",
                      project=project)
        print(f"\n[swarm] deploy of a missing image (exit {missing.returncode}):\n{missing.stderr}")
        # An image no registry has is refused by the pull before the clock: nothing is deployed.
        assert missing.returncode == 4, missing.stderr
        assert "cannot pull the image afc-e2e-missing/airflow:2.10.4" in missing.stderr, missing.stderr
        assert "nothing was started" in missing.stderr and "phase 1/3" not in missing.stderr
        assert not docker("stack", "ls", "--format", "{{.Name}}").stdout.split().count(stack)
        assert "Traceback" not in missing.stderr

        started = time.monotonic()
        deployed = afc("swarm", "deploy", "--timeout", "500", project=project, check=True)
        took = time.monotonic() - started
        print(f"\n[swarm] afc swarm deploy: {took:.1f}s\n{deployed.stderr}")
        assert "swarm stack 'e2e-swarm-swarm' is healthy after" in deployed.stderr
        assert "cannot bind published ports to 127.0.0.1" in deployed.stderr, "the exposure warning"
        assert "phase 1/3" in deployed.stderr and "phase 3/3" in deployed.stderr
        image = re.search(r"image: (\S+) \((built|reused)", deployed.stderr)[1]

        status = json.loads(afc("swarm", "status", "--json", project=project, check=True).stdout)
        assert status["healthy"] is True and status["stack"] == stack, status
        rows = {row["service"]: row for row in status["services"]}
        assert set(rows) == {"postgres", "redis", "init", "scheduler", "webserver", "triggerer", "worker"}
        assert (rows["worker"]["replicas"], rows["worker"]["wanted"]) == (2, 2)
        assert rows["init"]["state"] == "complete" and rows["init"]["health"] == "exit 0"
        assert f"*:{PORT}->8080/tcp" in rows["webserver"]["ports"]

        services = stack_services(stack)
        spec_text = json.dumps(services)
        values = env_values(project)
        for name in SECRETS:
            assert values[name] and values[name] not in spec_text, f"{name} is visible in docker service inspect"
        for service in services:
            mounts = service["Spec"]["TaskTemplate"]["ContainerSpec"].get("Mounts") or []
            assert all(m["Type"] == "volume" for m in mounts), (service["Spec"]["Name"], mounts)
            assert service["Spec"]["TaskTemplate"]["ContainerSpec"].get("Healthcheck") or \
                service["Spec"]["Name"].endswith("_init")
        with urllib.request.urlopen(f"http://127.0.0.1:{PORT}/health", timeout=10) as response:
            assert json.loads(response.read())["metadatabase"]["status"] == "healthy"

        wait_for("the baked DAG to reach the database",
                 lambda: json_output(airflow(stack, "dags", "details", "afc_e2e", "-o", "json")), timeout=180)
        assert airflow(stack, "dags", "unpause", "afc_e2e") != ""
        assert airflow(stack, "dags", "trigger", "afc_e2e") != ""
        try:
            states = wait_for("the DAG run to finish", lambda: (s := run_states(stack)) and
                              all(x in ("success", "failed") for x in s) and s, timeout=240)
        except AssertionError as error:
            raise AssertionError(f"{error}\n{docker('service', 'logs', '--tail', '40', f'{stack}_worker').stdout}")
        assert states == ["success"], f"DAG runs: {states}\n{task_logs(stack)}"
        logs = task_logs(stack)
        assert "got hello-from-" in logs
        workers = worker_hostnames(stack)
        assert len(workers) == 2 and any(f"ran-on={host}" in logs for host in workers), (workers, logs[-2000:])

        scaled = afc("swarm", "scale", "workers", "3", project=project, check=True)
        assert "3 worker(s) of 'e2e-swarm-swarm' running and healthy" in scaled.stderr
        assert len(worker_hostnames(stack)) == 3
        rows = {row["service"]: row for row in json.loads(afc("swarm", "status", "--json", project=project,
                                                               check=True).stdout)["services"]}
        assert (rows["worker"]["replicas"], rows["worker"]["wanted"]) == (3, 3)

        removed = afc("swarm", "rm", project=project, check=True)
        assert "removed (7 service(s))" in removed.stderr and "volumes kept" in removed.stderr
        assert not stack_services(stack)
        assert not docker("secret", "ls", "-q", "--filter", f"label=org.afc.swarm-stack={stack}").stdout.strip()
        volumes = docker("volume", "ls", "-q", "--filter", f"label=com.docker.stack.namespace={stack}").stdout.split()
        assert f"{stack}_postgres-data" in volumes, "the database is kept"
        assert "not deployed" in afc("swarm", "status", project=project, check=True).stderr
    finally:
        afc("swarm", "rm", "--volumes", "--yes", project=project)
        if image:
            docker("image", "rm", image, check=False)
    assert not docker("volume", "ls", "-q", "--filter", f"label=com.docker.stack.namespace={stack}").stdout.strip()
