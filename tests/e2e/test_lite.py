"""End to end, the lite stack (`afc init --lite`) on real Airflow (the stand-in images): one Airflow container on
SQLite in a named volume → healthy → a DAG run → status, logs, health → backup/restore of the SQLite file →
the refusals of commands that have no meaning for it."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.e2e.test_stack import trigger_and_wait, unpause
from tests.helpers import afc, docker, standin_flags, status_json

DAG_FILE = Path(__file__).parent / "dags" / "afc_e2e.py"
SQLITE_MAGIC = b"SQLite format 3\x00"


def variable(project: Path, name: str) -> str:
    done = afc("airflow", "variables", "get", name, project=project, check=True)
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("version, port", [("2.10.4", 18211), ("3.3.2", 18212)])
def test_lite_stack(tmp_path: Path, version: str, port: int) -> None:
    project = tmp_path / f"afc-lite-{version.replace('.', '')}"
    name = project.name
    created = afc("init", str(project), "--lite", *standin_flags(version), "--port", str(port), check=True)
    password = dict(line.split("=", 1) for line in (project / ".env").read_text().splitlines()
                    if "=" in line and not line.startswith("#"))["_AIRFLOW_WWW_USER_PASSWORD"]
    shutil.copy(DAG_FILE, project / "dags")
    try:
        up = afc("up", "--timeout", "420", project=project)
        assert up.returncode == 0, up.stdout + up.stderr
        assert re.search(r"healthy after [\d.]+s", up.stdout + up.stderr)
        for output in (created, up):
            assert password not in output.stdout + output.stderr

        status = status_json(project)
        assert [s["service"] for s in status["services"]] == ["init", "airflow"]
        assert status["healthy"], status
        running = docker("ps", "--filter", f"label=com.docker.compose.project={name}",
                         "--format", "{{.Label \"com.docker.compose.service\"}}").stdout.split()
        assert running == ["airflow"], "one Airflow container, no Postgres or Redis"
        volumes = docker("volume", "ls", "-q", "--filter", f"label=com.docker.compose.project={name}").stdout.split()
        assert volumes == [f"{name}_airflow-home"]

        health = afc("health", "--json", project=project)
        assert health.returncode == 0, health.stdout + health.stderr
        components = [c["component"] for c in json.loads(health.stdout)["checks"]]
        assert "airflow scheduler" in components and "airflow triggerer" in components
        logs = afc("logs", "airflow", project=project, check=True).stdout
        for component in ("scheduler |", "triggerer |", "api-server |" if version >= "3" else "webserver |"):
            assert component in logs, f"{component!r} missing from the lite container's log"

        unpause(project)
        trigger_and_wait(project, version, 1)

        afc("airflow", "variables", "set", "afc_lite_marker", "before", project=project, check=True)
        backup = afc("backup", project=project)
        assert backup.returncode == 0, backup.stdout + backup.stderr
        files = list((project / "backups").glob("*.sqlite"))
        assert len(files) == 1
        assert files[0].read_bytes()[:16] == SQLITE_MAGIC and files[0].stat().st_mode & 0o777 == 0o600
        afc("airflow", "variables", "set", "afc_lite_marker", "after", project=project, check=True)
        restored = afc("restore", str(files[0]), "--yes", "--timeout", "420", project=project)
        assert restored.returncode == 0, restored.stdout + restored.stderr
        assert variable(project, "afc_lite_marker") == "before"

        foreign = tmp_path / "not-a-backup.sqlite"
        foreign.write_bytes(b"PGDMP" + b"\0" * 100)
        refused = afc("restore", str(foreign), "--yes", project=project)
        assert refused.returncode == 2 and "not a SQLite database" in refused.stderr
        assert variable(project, "afc_lite_marker") == "before"

        for command, args in (("scale", ["scale", "workers", "2"]), ("swarm", ["swarm", "status"]),
                              ("export helm", ["export", "helm"])):
            done = afc(*args, project=project)
            assert done.returncode == 2, (command, done.stdout, done.stderr)
            assert f"`afc {command}` has no meaning for the lite project" in done.stderr
            assert "Traceback" not in done.stderr
    finally:
        afc("down", "--volumes", "--yes", project=project)


def test_lite_upgrade_keeps_the_sqlite_data(tmp_path: Path) -> None:
    project = tmp_path / "afc-lite-upgrade"
    afc("init", str(project), "--lite", *standin_flags("2.10.4"), "--port", "18213", check=True)
    try:
        up = afc("up", "--timeout", "420", project=project)
        assert up.returncode == 0, up.stdout + up.stderr
        afc("airflow", "variables", "set", "afc_lite_upgrade", "kept", project=project, check=True)
        upgraded = afc("upgrade", "--to", "3.3.2", "--yes", "--timeout", "600", project=project, timeout=900)
        assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
        assert "AIRFLOW_IMAGE_NAME=afc-standin/airflow:3.3.2-python3.11" in (project / ".env").read_text()
        [backup] = list((project / "backups").glob("*before-3.3.2*.sqlite"))
        assert backup.read_bytes()[:16] == SQLITE_MAGIC
        status = status_json(project)
        assert [s["service"] for s in status["services"]] == ["init", "airflow"] and status["healthy"], status
        assert variable(project, "afc_lite_upgrade") == "kept"
        assert "api-server |" in afc("logs", "airflow", project=project, check=True).stdout
    finally:
        afc("down", "--volumes", "--yes", project=project)
