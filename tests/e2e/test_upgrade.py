"""End to end: `afc upgrade` on real Airflow (stand-in images), 2.10.4 → 2.11.2 → 3.3.2 on one Celery stack,
with a DAG run recorded before each step and a new run succeeding after it; plus the refusals and the
roll-back path on the way."""
from __future__ import annotations

import shutil
import stat
import time
from pathlib import Path

from tests.e2e.test_stack import DAG_FILE, dag_details, list_runs
from tests.e2e.test_stack import trigger_and_wait as _trigger_and_wait
from tests.e2e.test_stack import unpause
from tests.helpers import afc, docker, standin_flags, status_json, wait_for

PORT = 18400


def image_in_env(project: Path) -> str:
    return next(line.split("=", 1)[1] for line in (project / ".env").read_text().splitlines()
                if line.startswith("AIRFLOW_IMAGE_NAME="))


def services(project: Path) -> set[str]:
    return {s["service"] for s in status_json(project)["services"]}


def running_services(name: str) -> set[str]:
    out = docker("ps", "--filter", f"label=com.docker.compose.project={name}", "--format",
                 '{{.Label "com.docker.compose.service"}}').stdout
    return set(out.split())


def trigger_and_wait(project: Path, version: str, expected_runs: int) -> None:
    try:
        _trigger_and_wait(project, version, expected_runs)
    except AssertionError as error:
        logs = afc("logs", "scheduler", "worker", "--tail", "60", project=project).stdout
        raise AssertionError(f"{error}\n--- scheduler/worker logs:\n{logs}") from None


def upgrade(project: Path, to: str) -> float:
    began = time.monotonic()
    done = afc("upgrade", "--to", to, "--yes", "--timeout", "500", project=project)
    elapsed = time.monotonic() - began
    assert done.returncode == 0, f"afc upgrade --to {to} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    print(f"\n[upgrade --to {to}] {elapsed:.1f}s\n{done.stderr[-1500:]}")
    assert f"upgraded to Airflow {to}" in done.stderr and "backups/" in done.stderr
    return elapsed


def test_upgrade_2_10_to_2_11_to_3_3(tmp_path):
    project = tmp_path / "up-celery"
    name = project.name
    afc("init", str(project), *standin_flags("2.10.4"), "--executor", "celery", "--port", str(PORT), check=True)
    try:
        afc("up", "--timeout", "400", project=project, check=True)
        shutil.copy(DAG_FILE, project / "dags" / DAG_FILE.name)
        unpause(project)
        trigger_and_wait(project, "2.10.4", expected_runs=1)

        # A tag the engine does not hold and cannot pull: the pull is refused (no registry here: an environment
        # problem, exit 4) before anything changes.
        missing = afc("upgrade", "--to", "2.11.1", "--yes", project=project)
        assert missing.returncode == 4 and "nothing was changed" in missing.stderr, missing.stderr
        assert "cannot pull the image afc-standin/airflow:2.11.1-python3.11" in missing.stderr
        assert image_in_env(project) == "afc-standin/airflow:2.10.4-python3.11"
        assert status_json(project)["healthy"] is True

        # A failed upgrade (here: not healthy within 3 s) rolls back .env, stops the stack, names the backup.
        failed = afc("upgrade", "--to", "2.11.2", "--yes", "--timeout", "3", project=project)
        assert failed.returncode == 5, failed.stderr
        assert "the upgrade failed" in failed.stderr and "restore" in failed.stderr, failed.stderr
        assert image_in_env(project) == "afc-standin/airflow:2.10.4-python3.11"
        assert "afc-standin/airflow:2.10.4-python3.11" in (project / "compose.yaml").read_text()
        assert not running_services(name) - {"postgres", "redis"}, running_services(name)
        left = docker("ps", "-a", "--filter", f"label=com.docker.compose.project={name}", "--format",
                      "{{.Image}}").stdout.split()
        assert "afc-standin/airflow:2.11.2-python3.11" not in left, left
        dumps = sorted((project / "backups").glob("*.dump"))
        assert len(dumps) == 1 and str(dumps[0]) in failed.stderr
        assert dumps[0].read_bytes()[:5] == b"PGDMP" and stat.S_IMODE(dumps[0].stat().st_mode) == 0o600

        first = upgrade(project, "2.11.2")
        assert image_in_env(project) == "afc-standin/airflow:2.11.2-python3.11"
        assert stat.S_IMODE((project / ".env").stat().st_mode) == 0o600
        assert status_json(project)["healthy"] is True
        assert [r["state"] for r in list_runs(project, "2.11.2")] == ["success"], "the 2.10.4 run survived"
        trigger_and_wait(project, "2.11.2", expected_runs=2)

        second = upgrade(project, "3.3.2")
        assert image_in_env(project) == "afc-standin/airflow:3.3.2-python3.11"
        present = services(project)
        assert {"api-server", "dag-processor"} <= present and "webserver" not in present, present
        assert "webserver" not in running_services(name)
        assert status_json(project)["healthy"] is True
        assert sorted(r["state"] for r in list_runs(project, "3.3.2")) == ["success", "success"]
        wait_for("the DAG in the 3.x database", lambda: dag_details(project), timeout=180)
        trigger_and_wait(project, "3.3.2", expected_runs=3)
        assert len(list((project / "backups").glob("*.dump"))) == 3
        print(f"\nupgrade times: 2.10.4→2.11.2 {first:.1f}s, 2.11.2→3.3.2 {second:.1f}s")
    finally:
        afc("down", "--volumes", "--yes", project=project)
    assert not docker("volume", "ls", "-q", "--filter", f"label=com.docker.compose.project={name}").stdout.strip()
