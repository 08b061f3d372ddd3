"""End to end on real Airflow (the stand-in images): init → up → a DAG run on a Celery worker → logs,
status, health → plain docker compose → scale → down/up with nothing lost → down --volumes."""
from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.helpers import afc, docker, standin_flags, status_json, wait_for

DAG_FILE = Path(__file__).parent / "dags" / "afc_e2e.py"
STACKS = [("2.10.4", "celery", 18081), ("3.3.2", "celery", 18082), ("2.10.4", "local", 18083)]


def list_runs(project: Path, version: str) -> list[dict]:
    args = ["dags", "list-runs", "afc_e2e", "-o", "json"] if version.startswith("3") else \
        ["dags", "list-runs", "-d", "afc_e2e", "-o", "json"]
    done = afc("airflow", *args, project=project)
    return json_output(done.stdout) if done.returncode == 0 else []


def dag_details(project: Path) -> dict:
    """The DAG as the metadata database knows it (`dags list` parses files itself, so it can run ahead)."""
    done = afc("airflow", "dags", "details", "afc_e2e", "-o", "json", project=project)
    found = json_output(done.stdout) if done.returncode == 0 else []
    return found[0] if found else {}


def json_output(stdout: str) -> list:
    """The JSON list an Airflow CLI printed (3.x prints warnings on stdout before it)."""
    for line in stdout.splitlines():
        if line.startswith("["):
            try:
                return json.loads(line)
            except ValueError:
                continue
    return []


def unpause(project: Path) -> None:
    wait_for("the DAG to reach the database", lambda: dag_details(project), timeout=180)
    afc("airflow", "dags", "unpause", "afc_e2e", project=project, check=True)
    wait_for("the DAG to be unpaused", lambda: str(dag_details(project).get("is_paused")).lower() == "false",
             timeout=60)


def run_states(project: Path, version: str) -> list[str]:
    return [run.get("state") for run in list_runs(project, version)]


def trigger_and_wait(project: Path, version: str, expected_runs: int) -> None:
    afc("airflow", "dags", "trigger", "afc_e2e", project=project, check=True)
    try:
        states = wait_for("the DAG run to finish", lambda: (s := run_states(project, version)) and
                          len(s) >= expected_runs and all(x in ("success", "failed") for x in s) and s, timeout=240)
    except AssertionError as error:
        runs = list_runs(project, version)
        worker = afc("logs", "worker", "scheduler", "--tail", "40", project=project).stdout
        raise AssertionError(f"{error}\nruns: {runs}\nlogs:\n{worker}\ntask logs:\n{task_logs(project)}")
    assert all(state == "success" for state in states), f"DAG runs: {states}\n{task_logs(project)}"


def task_logs(project: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in sorted((project / "logs").rglob("*.log"))
                     if "task_id=consume" in str(p))


def container_hostnames(project_name: str, service: str) -> set[str]:
    ids = docker("ps", "-q", "--filter", f"label=com.docker.compose.project={project_name}",
                 "--filter", f"label=com.docker.compose.service={service}").stdout.split()
    return {docker("inspect", "-f", "{{.Config.Hostname}}", cid).stdout.strip() for cid in ids}


def follow_logs_and_interrupt(project: Path, name: str) -> None:
    """`afc logs -f` streams, and Ctrl-C ends it cleanly leaving no `docker compose logs` behind."""
    import os
    import signal
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("AFC_")}
    follower = subprocess.Popen([sys.executable, "-m", "airflow_compose", "--project-dir", str(project), "logs",
                                 "-f", "--tail", "5", "scheduler"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=env)
    time.sleep(4)
    follower.send_signal(signal.SIGINT)
    out, err = follower.communicate(timeout=30)
    assert follower.returncode == 130, err
    assert out.strip(), "lines were streamed before Ctrl-C"
    assert "Traceback" not in err
    time.sleep(1)
    leftovers = subprocess.run(["pgrep", "-f", f"project-name {name} .*logs"], capture_output=True, text=True)
    assert not leftovers.stdout.strip(), f"docker compose logs left running: {leftovers.stdout}"


@pytest.mark.parametrize("version, executor, port", STACKS, ids=[f"{v}-{e}" for v, e, _ in STACKS])
def test_full_scenario(tmp_path, version, executor, port):
    project = tmp_path / f"e2e-{version.replace('.', '')}-{executor}"
    name = project.name
    afc("init", str(project), *standin_flags(version), "--executor", executor, "--port", str(port), check=True)
    try:
        started = time.monotonic()
        up = afc("up", "--timeout", "400", project=project, check=True)
        print(f"\n[{name}] time to healthy: {time.monotonic() - started:.1f}s\n{up.stderr}")
        assert "is healthy after" in up.stderr and f"http://localhost:{port}" in up.stderr
        assert "_AIRFLOW_WWW_USER_PASSWORD in" in up.stderr

        shutil.copy(DAG_FILE, project / "dags" / DAG_FILE.name)
        unpause(project)
        trigger_and_wait(project, version, expected_runs=1)
        logs_text = task_logs(project)
        assert "got hello-from-" in logs_text, "the XCom value reached the BashOperator"
        if executor == "celery":
            workers = container_hostnames(name, "worker")
            assert any(f"ran-on={host}" in logs_text for host in workers), (workers, logs_text[-2000:])
        else:
            schedulers = container_hostnames(name, "scheduler")
            assert any(f"ran-on={host}" in logs_text for host in schedulers)

        scheduler_logs = afc("logs", "scheduler", "--tail", "20", project=project, check=True).stdout
        assert 0 < len(scheduler_logs.strip().splitlines()) <= 20 + 5
        follow_logs_and_interrupt(project, name)
        status = status_json(project)
        assert status["healthy"] is True, status
        assert {s["service"] for s in status["services"]} >= {"scheduler", "postgres", "init"}
        deep = afc("health", "--json", project=project)
        assert deep.returncode == 0, deep.stdout + deep.stderr
        assert json.loads(deep.stdout)["healthy"] is True

        listed = subprocess.run(["docker", "compose", "ps", "--all", "--format", "{{.Service}}"], cwd=project,
                                capture_output=True, text=True, check=True).stdout.split()
        assert sorted(set(listed)) == sorted(s["service"] for s in status["services"])

        if executor == "celery":
            afc("scale", "workers", "2", project=project, check=True)
            assert len(container_hostnames(name, "worker")) == 2
            assert status_json(project)["healthy"]
            afc("scale", "workers", "1", project=project, check=True)
            assert len(container_hostnames(name, "worker")) == 1

        afc("down", project=project, check=True)
        assert not container_hostnames(name, "scheduler")
        afc("up", "--timeout", "400", project=project, check=True)
        assert "success" in run_states(project, version), "the DAG run survived down/up"
        init_log = afc("logs", "init", project=project, check=True).stdout
        assert "afc-init: nothing to do" in init_log, f"a restart left init work to do: {init_log[-1500:]}"
    finally:
        afc("down", "--volumes", "--yes", project=project)
    assert not docker("volume", "ls", "-q", "--filter", f"label=com.docker.compose.project={name}").stdout.strip()
