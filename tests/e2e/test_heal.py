"""A stack that heals itself, on one 2.10.4 Celery stack shared by the module (tests run in file order): the
scheduler's, a worker's and the triggerer's main process frozen with SIGSTOP (a hang Docker's restart policy
never sees) are killed by their own health check and restarted within the bound, and `afc status` says why;
Redis restarted while idle and while a task runs loses no task instance; the log cleaner removes aged logs
and keeps fresh ones. Recovery times are printed (the figures of the README and the report)."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from tests.e2e.test_backup_faults import SLEEP_DAG, runs, start_sleeping_run, task_state
from tests.e2e.test_stack import DAG_FILE, run_states, unpause
from tests.helpers import (
    afc, container_id, docker, docker_time, inspect, passed_since_start, standin_flags, status_json, wait_for
)

VERSION = "2.10.4"
PORT = 18216
NAME = "heal-e2e"
BOUND = 300  # seconds: the README's promise, from the first failed probe (the freeze is earlier still)
FIGURES: dict[str, float] = {}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    project = tmp_path_factory.mktemp("heal") / NAME
    afc("init", str(project), *standin_flags(VERSION), "--port", str(PORT), check=True)
    shutil.copy(DAG_FILE, project / "dags" / DAG_FILE.name)
    (project / "dags" / "afc_sleep.py").write_text(SLEEP_DAG.replace("sleep 20", "sleep 40"))
    try:
        afc("up", "--timeout", "400", project=project, check=True)
        unpause(project)
        yield project
    finally:
        afc("down", "--volumes", "--yes", project=project)
        print("\nheal figures (s): " + ", ".join(f"{k}: {v:.1f}" for k, v in FIGURES.items()))


def freeze(cid: str) -> None:
    """SIGSTOP the service's main process: the child of the container's dumb-init."""
    docker("exec", cid, "sh", "-c", "for f in $(grep -lE '^PPid:[[:space:]]+1$' /proc/[0-9]*/status); do "
                                    "p=${f%/status}; kill -STOP ${p##*/}; done")


def first_failed_probe(cid: str, since: float) -> float | None:
    """Seconds from `since` (a time.time()) to the first failed health probe Docker still remembers."""

    failed = [docker_time(e["Start"]).timestamp() for e in (inspect(cid)["State"].get("Health") or {}).get("Log", [])
              if e["ExitCode"] != 0 and docker_time(e["Start"]).timestamp() > since]
    return min(failed) - since if failed else None


def succeeded_run(project: Path, version: str, count: int, timeout: float) -> float:
    """Trigger afc_e2e and wait for its run to succeed; the seconds it took."""
    began = time.monotonic()
    afc("airflow", "dags", "trigger", "afc_e2e", project=project, check=True)
    states = wait_for("the DAG run to finish", lambda: (s := run_states(project, version)) and len(s) >= count
                      and all(x in ("success", "failed") for x in s) and s, timeout=timeout, every=3)
    assert all(state == "success" for state in states), states
    return time.monotonic() - began


def heal(project: Path, service: str) -> None:
    cid = container_id(NAME, service)
    restarts = inspect(cid)["RestartCount"]
    frozen_at, began = time.time(), time.monotonic()
    freeze(cid)
    probe_failed = wait_for(f"a failed health probe of the frozen {service}",
                            lambda: first_failed_probe(cid, frozen_at), timeout=BOUND, every=2)
    wait_for(f"Docker to restart the frozen {service}", lambda: inspect(cid)["RestartCount"] > restarts,
             timeout=BOUND, every=1)
    restarted = time.monotonic() - began
    wait_for(f"a passing health check of the restarted {service}", lambda: passed_since_start(inspect(cid)),
             timeout=BOUND, every=1)
    wait_for(f"the stack to be healthy after {service} froze", lambda: status_json(project)["healthy"],
             timeout=BOUND, every=2)
    healthy = time.monotonic() - began
    FIGURES[f"{service}: first failed probe"] = probe_failed
    FIGURES[f"{service}: restarted"] = restarted
    FIGURES[f"{service}: healthy"] = healthy
    print(f"\n[{NAME}] {service} frozen: first failed probe after {probe_failed:.0f}s, restarted after "
          f"{restarted:.0f}s, stack healthy after {healthy:.0f}s")
    assert healthy - probe_failed <= BOUND
    row = next(s for s in status_json(project)["services"] if s["service"] == service)
    assert row["restarts"] >= 1
    assert row["last_restart_reason"].startswith(f"afc-heal: {service} on "), row
    shown = afc("status", project=project, check=True)
    assert f"{service}, last restart: afc-heal:" in shown.stderr
    deep = json.loads(afc("health", "--json", project=project).stdout)
    assert "restarted" in next(c["detail"] for c in deep["checks"] if c["component"] == f"container {service}")


def test_frozen_scheduler_heals(stack):
    heal(stack, "scheduler")
    FIGURES["run after scheduler heal"] = succeeded_run(stack, VERSION, 1, timeout=240)


def test_frozen_worker_heals(stack):
    heal(stack, "worker")
    FIGURES["run after worker heal"] = succeeded_run(stack, VERSION, 2, timeout=240)


def test_frozen_triggerer_heals(stack):
    heal(stack, "triggerer")
    FIGURES["run after triggerer heal"] = succeeded_run(stack, VERSION, 3, timeout=240)


def test_redis_restart_while_idle(stack):
    worker = container_id(NAME, "worker")
    restarts = inspect(worker)["RestartCount"]
    docker("restart", container_id(NAME, "redis"))
    FIGURES["run after idle Redis restart"] = seconds = succeeded_run(stack, VERSION, 4, timeout=120)
    print(f"\n[{NAME}] Redis restarted while idle: the next run succeeded in {seconds:.0f}s "
          f"(worker restarts: {inspect(worker)['RestartCount'] - restarts})")


def test_redis_restart_while_a_task_runs(stack):
    project = stack
    run_id = "heal-redis-in-flight"
    start_sleeping_run(project, run_id)
    docker("restart", container_id(NAME, "redis"))
    began = time.monotonic()
    FIGURES["run after Redis restart with a task running"] = succeeded_run(project, VERSION, 5, timeout=120)
    ended = wait_for("the in-flight run to end", lambda: (r := runs(project, "afc_sleep")) and
                     r[0]["state"] in ("success", "failed") and r, timeout=300, every=3)
    FIGURES["in-flight run ended after Redis restart"] = time.monotonic() - began
    assert ended[0]["run_id"] == run_id and ended[0]["state"] == "success", ended
    assert task_state(project, "afc_sleep", "nap", run_id) == "success"


def test_log_cleaner_removes_aged_logs_only(stack):
    project = stack
    scheduler = container_id(NAME, "scheduler")
    docker("exec", scheduler, "sh", "-c", "mkdir -p /opt/airflow/logs/aged /opt/airflow/logs/fresh && "
                                          "touch -d '16 days ago' /opt/airflow/logs/aged/old.log && "
                                          "touch -d '14 days ago' /opt/airflow/logs/fresh/recent.log")
    assert (project / "logs" / "aged" / "old.log").exists()
    afc("restart", "log-cleaner", project=project, check=True)  # it cleans when it starts, then every 15 min
    wait_for("the aged log to be removed", lambda: not (project / "logs" / "aged" / "old.log").exists(), timeout=60)
    assert (project / "logs" / "fresh" / "recent.log").exists()
    assert (project / "logs" / "scheduler").is_dir(), "the scheduler's current logs are kept"
    assert afc("logs", "scheduler", "--tail", "5", project=project, check=True).stdout.strip()
