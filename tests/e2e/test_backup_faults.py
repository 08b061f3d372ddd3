"""Nothing lost, and faults: on one 2.10.4 Celery stack (shared by the module, tests run in file order),
`afc backup` / `afc restore` bring a deleted database back; crashes of the scheduler, a worker (with a task in
flight) and Postgres heal by themselves through the restart policies; containers stopped behind afc's back,
an interrupted `afc up` and a config change are recovered by `afc up`; a restart of the Docker daemon itself
keeps every DAG run (last, since it takes every container of the machine down). Recovery times are printed.

A crash is simulated with SIGKILL to the container's main process from outside (what the OOM killer does):
`docker kill` is not a crash for Docker, it counts as a manual stop and restart policies ignore it.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.test_stack import DAG_FILE, json_output, run_states, trigger_and_wait, unpause
from tests.helpers import afc, container_id, docker, inspect, passed_since_start, standin_flags, status_json, wait_for

VERSION = "2.10.4"
PORT = 18210
NAME = "bf-faults"
RECOVERY: dict[str, float] = {}

SLEEP_DAG = '''
from datetime import datetime, timedelta
from airflow import DAG
from airflow.operators.bash import BashOperator

with DAG("afc_sleep", schedule=None, start_date=datetime(2024, 1, 1), catchup=False,
         default_args={"retries": 1, "retry_delay": timedelta(seconds=5)}) as dag:
    BashOperator(task_id="nap", bash_command="sleep 20; echo slept-on=$(hostname)")
'''

# A killed worker leaves its task "running" with no heartbeat: let the scheduler see such zombies (and
# tasks lost in the queue) within a minute instead of the defaults' five and ten minutes.
OVERRIDE = '''
services:
  scheduler:
    environment:
      AIRFLOW__SCHEDULER__SCHEDULER_ZOMBIE_TASK_THRESHOLD: "30"
      AIRFLOW__SCHEDULER__ZOMBIE_DETECTION_INTERVAL: "5"
      AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT: "90"
'''


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    project = tmp_path_factory.mktemp("bf") / NAME
    afc("init", str(project), *standin_flags(VERSION), "--port", str(PORT), check=True)
    (project / "compose.override.yaml").write_text(OVERRIDE)
    shutil.copy(DAG_FILE, project / "dags" / DAG_FILE.name)
    (project / "dags" / "afc_sleep.py").write_text(SLEEP_DAG)
    try:
        started = time.monotonic()
        afc("up", "--timeout", "400", project=project, check=True)
        RECOVERY["first up"] = time.monotonic() - started
        yield project
    finally:
        afc("down", "--volumes", "--yes", project=project)
        print("\nrecovery times (s): " + ", ".join(f"{k}: {v:.1f}" for k, v in RECOVERY.items()))
        assert not docker("volume", "ls", "-q", "--filter", f"label=com.docker.compose.project={NAME}").stdout.strip()


# --- helpers ------------------------------------------------------------------------------------------------

def crash(service: str) -> str:
    """SIGKILL the main process of the service's container from outside, as a crash or the OOM killer would."""
    cid = container_id(NAME, service)
    pid = inspect(cid)["State"]["Pid"]
    assert pid > 0, f"{service} is not running"
    if os.geteuid() == 0:
        os.kill(pid, signal.SIGKILL)
    else:  # the host's process table through the engine
        docker("run", "--rm", "--pid=host", "--privileged", "afc-standin/base:bookworm", "kill", "-9", str(pid))
    return cid


def recover(project: Path, service: str) -> float:
    """Crash `service`, then wait until Docker restarted it and the whole stack is healthy; the seconds taken."""
    cid = container_id(NAME, service)
    restarts = inspect(cid)["RestartCount"]
    began = time.monotonic()
    crash(service)
    wait_for(f"Docker to restart {service}", lambda: inspect(cid)["RestartCount"] > restarts, timeout=60, every=0.5)
    # Docker may carry the old health status over a restart: wait for a passing probe of the new process
    wait_for(f"a passing health check of the restarted {service}", lambda: passed_since_start(inspect(cid)),
             timeout=300, every=1)
    wait_for(f"the stack to be healthy after {service} crashed",
             lambda: status_json(project)["healthy"], timeout=300, every=2)
    seconds = time.monotonic() - began
    RECOVERY[f"{service} crash"] = seconds
    print(f"\n[{NAME}] healthy again {seconds:.1f}s after SIGKILL of {service}")
    health_passes(project)
    return seconds


def health_passes(project: Path) -> None:
    """`afc health` exits 0 (the web component's view may lag the containers' by a heartbeat)."""
    deep = wait_for("afc health to pass", lambda: (d := afc("health", "--json", project=project)).returncode == 0
                    and d, timeout=120, every=5)
    assert json.loads(deep.stdout)["healthy"] is True


def runs(project: Path, dag_id: str) -> list[dict]:
    done = afc("airflow", "dags", "list-runs", "-d", dag_id, "-o", "json", project=project)
    return json_output(done.stdout) if done.returncode == 0 else []


def dag_in_db(project: Path, dag_id: str) -> dict:
    done = afc("airflow", "dags", "details", dag_id, "-o", "json", project=project)
    found = json_output(done.stdout) if done.returncode == 0 else []
    return found[0] if found else {}


def task_state(project: Path, dag_id: str, task_id: str, run_id: str) -> str:
    done = afc("airflow", "tasks", "state", dag_id, task_id, run_id, project=project)
    lines = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    return lines[-1] if done.returncode == 0 and lines else ""


def successful_runs(project: Path) -> int:
    return sum(1 for state in run_states(project, VERSION) if state == "success")


# --- nothing lost ---------------------------------------------------------------------------------------------

def test_backup_restore_round_trip(stack):
    project = stack
    unpause(project)
    trigger_and_wait(project, VERSION, expected_runs=1)

    done = afc("backup", project=project, check=True)
    dumps = list((project / "backups").glob(f"{NAME}-*.dump"))
    assert len(dumps) == 1, done.stderr
    dump = dumps[0]
    assert dump.stat().st_mode & 0o777 == 0o600 and dump.read_bytes()[:5] == b"PGDMP"
    assert str(dump) in done.stderr
    assert not list((project / "backups").glob(".*partial")), "no temporary file left"

    refused = afc("restore", str(dump), project=project)  # no terminal, no --yes: nothing changes
    assert refused.returncode == 2 and "--yes" in refused.stderr

    afc("down", "--volumes", "--yes", project=project, check=True)
    afc("up", "--timeout", "400", project=project, check=True)
    wait_for("the DAG in the fresh database", lambda: dag_in_db(project, "afc_e2e"), timeout=180)
    assert run_states(project, VERSION) == [], "the fresh database has no DAG runs"

    started = time.monotonic()
    restored = afc("restore", str(dump), "--yes", "--timeout", "400", project=project, check=True)
    RECOVERY["restore (incl. restart)"] = time.monotonic() - started
    assert "restored the database" in restored.stderr and "is healthy after" in restored.stderr
    assert run_states(project, VERSION) == ["success"], "the DAG run is back"
    assert status_json(project)["healthy"]


def test_restore_bad_files_change_nothing(stack, tmp_path):
    project = stack
    before = {c: inspect(container_id(NAME, c))["State"]["StartedAt"] for c in ("scheduler", "worker")}
    garbage = tmp_path / "garbage.dump"
    garbage.write_text("not a dump\n")
    truncated = tmp_path / "truncated.dump"
    good = tmp_path / "explicit.dump"
    made = afc("backup", str(good), project=project, check=True)
    assert str(good) in made.stderr and good.stat().st_mode & 0o777 == 0o600
    again = afc("backup", str(good), project=project)
    assert again.returncode == 2 and "already exists" in again.stderr, "a backup never overwrites a file"
    truncated.write_bytes(good.read_bytes()[:2000])
    for path, words in ((tmp_path / "missing.dump", "does not exist"), (garbage, "not a pg_dump"),
                        (truncated, "not a readable pg_dump archive")):
        done = afc("restore", str(path), "--yes", project=project)
        assert done.returncode == 2 and words in done.stderr and "Traceback" not in done.stderr, done.stderr
    after = {c: inspect(container_id(NAME, c))["State"]["StartedAt"] for c in ("scheduler", "worker")}
    assert before == after, "nothing was stopped"


# --- faults ---------------------------------------------------------------------------------------------------

def test_scheduler_crash_heals(stack):
    before = successful_runs(stack)
    recover(stack, "scheduler")
    assert successful_runs(stack) == before


def start_sleeping_run(project: Path, run_id: str) -> None:
    """Trigger a run of afc_sleep (one 20 s task) and return once its task is running on a worker."""
    wait_for("afc_sleep in the database", lambda: dag_in_db(project, "afc_sleep"), timeout=180)
    afc("airflow", "dags", "unpause", "afc_sleep", project=project, check=True)
    afc("airflow", "dags", "trigger", "afc_sleep", "-r", run_id, project=project, check=True)
    wait_for("the nap task to run", lambda: task_state(project, "afc_sleep", "nap", run_id) == "running",
             timeout=180, every=2)


def test_worker_crash_with_task_in_flight(stack):
    project = stack
    run_id = "bf-in-flight"
    start_sleeping_run(project, run_id)
    before = successful_runs(project)
    recover(project, "worker")
    began = time.monotonic()
    states = wait_for("the in-flight run to end", lambda: (r := runs(project, "afc_sleep")) and
                      r[0]["state"] in ("success", "failed") and r, timeout=300, every=5)
    RECOVERY["in-flight run ended after worker recovery"] = time.monotonic() - began
    print(f"\n[{NAME}] in-flight run ended '{states[0]['state']}', task tries: "
          f"{task_state(project, 'afc_sleep', 'nap', run_id)}")
    assert states[0]["run_id"] == run_id and states[0]["state"] in ("success", "failed")
    assert successful_runs(project) == before


def test_postgres_crash_heals(stack):
    before = successful_runs(stack)
    recover(stack, "postgres")
    assert successful_runs(stack) == before
    assert runs(stack, "afc_sleep"), "the in-flight run's record survived"


# --- config change and re-render --------------------------------------------------------------------------------

def test_config_change_keeps_database(stack):
    project = stack
    env = project / ".env"
    text = env.read_text()
    assert "AFC_WORKER_CONCURRENCY=4" in text
    env.write_text(text.replace("AFC_WORKER_CONCURRENCY=4", "AFC_WORKER_CONCURRENCY=3"))
    old_worker = container_id(NAME, "worker")
    afc("up", "--timeout", "400", project=project, check=True)
    assert "AIRFLOW__CELERY__WORKER_CONCURRENCY: '3'" in (project / "compose.yaml").read_text()
    worker = container_id(NAME, "worker")
    assert worker != old_worker, "the worker was re-created with the new setting"
    assert "AIRFLOW__CELERY__WORKER_CONCURRENCY=3" in inspect(worker)["Config"]["Env"]
    assert "success" in run_states(project, VERSION), "the database survived the re-render"


# --- behind afc's back: stopped containers, a stopped stack, an interrupted up --------------------------------

def test_stopped_behind_back_and_interrupted_up(stack):
    project = stack
    ids = docker("ps", "-q", "--filter", f"label=com.docker.compose.project={NAME}").stdout.split()
    docker("stop", *ids)

    version = afc("airflow", "version", project=project)
    assert version.returncode == 5 and "afc up" in version.stderr and "Traceback" not in version.stderr

    environ = {k: v for k, v in os.environ.items() if not k.startswith("AFC_")}
    child = subprocess.Popen([sys.executable, "-m", "airflow_compose", "--project-dir", str(project), "up"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**environ, "NO_COLOR": "1"})
    time.sleep(5)
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 130, (child.returncode, err)
    assert "Traceback" not in err, err

    started = time.monotonic()
    afc("up", "--timeout", "400", project=project, check=True)
    RECOVERY["afc up after docker stop + interrupted up"] = time.monotonic() - started
    assert status_json(project)["healthy"]
    health_passes(project)
    assert "success" in run_states(project, VERSION)


# --- the Docker daemon restarts (last: every container of the machine goes down with it) ----------------------

RESTART_DOCKER = Path(__file__).resolve().parents[2] / "scripts" / "restart-docker"


def test_daemon_restart_keeps_database(stack):
    if os.environ.get("AFC_TEST_KEEP_DAEMON"):
        pytest.skip("AFC_TEST_KEEP_DAEMON is set: not restarting the Docker daemon (it stops every container)")
    project = stack
    before = run_states(project, VERSION)
    assert "success" in before
    began = time.monotonic()
    done = subprocess.run(["bash", str(RESTART_DOCKER)], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    # the restart policies alone bring the stack back; afc is only asked
    wait_for("the stack to be healthy after the daemon restart", lambda: status_json(project)["healthy"],
             timeout=400, every=3)
    RECOVERY["docker daemon restart"] = time.monotonic() - began
    print(f"\n[{NAME}] healthy again {RECOVERY['docker daemon restart']:.1f}s after the daemon restart began")
    assert sorted(run_states(project, VERSION)) == sorted(before), "every DAG run survived the daemon restart"
    afc("up", "--timeout", "400", project=project, check=True)
    health_passes(project)
    trigger_and_wait(project, VERSION, len(before) + 1)
    assert run_states(project, VERSION).count("success") == before.count("success") + 1
