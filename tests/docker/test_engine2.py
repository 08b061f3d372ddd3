"""On a current engine (engine 2: Debian trixie's Docker 26.1.5, API 1.45, started by scripts/engine2) afc sees
API >= 1.44 and renders health checks with `start_interval`; on the machine's engine 20.10 it does not."""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests import services
from tests.helpers import afc


@pytest.fixture(scope="module")
def engine2_host():
    with services.engine2(images="") as host:
        yield host


def test_engine2_speaks_api_1_45(engine2_host):
    version = subprocess.run(["docker", "-H", engine2_host, "version", "--format", "{{json .Server}}"],
                             capture_output=True, text=True, check=True)
    server = json.loads(version.stdout)
    assert server["ApiVersion"] == "1.45" and server["Version"].startswith("26.1.5")


def test_the_rendered_file_has_start_interval_on_engine2_only(tmp_path, engine2_host):
    current, machine = tmp_path / "current", tmp_path / "machine"
    afc("init", str(current), "--tag", "3.3.2-python3.12", env={"DOCKER_HOST": engine2_host}, check=True)
    afc("init", str(machine), "--tag", "3.3.2-python3.12", check=True)
    assert "start_interval:" in (current / "compose.yaml").read_text()
    machine_api = subprocess.run(["docker", "version", "--format", "{{.Server.APIVersion}}"], capture_output=True,
                                 text=True, check=True).stdout.strip()
    if tuple(int(part) for part in machine_api.split(".")) < (1, 44):
        assert "start_interval:" not in (machine / "compose.yaml").read_text()
    resolved = subprocess.run(["docker", "compose", "config", "--format", "json"], cwd=current, capture_output=True,
                              text=True, env={**os.environ, "DOCKER_HOST": engine2_host})
    assert resolved.returncode == 0, resolved.stderr
    checks = [service["healthcheck"] for service in json.loads(resolved.stdout)["services"].values()
              if service.get("healthcheck", {}).get("test")]
    assert checks and all("start_interval" in check for check in checks)
    doctor = afc("doctor", "--json", project=current, env={"DOCKER_HOST": engine2_host})
    version_check = next(c for c in json.loads(doctor.stdout)["checks"] if c["name"] == "engine-version")
    assert version_check["status"] == "ok", version_check
