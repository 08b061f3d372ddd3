"""Every rendered variant is accepted by the real `docker compose config`, and the engine probe works."""
import json
import subprocess

import pytest

from airflow_compose import engine
from tests.helpers import afc

VARIANTS = [
    ["--tag", "2.10.4-python3.12", "--arch", "amd64", "--executor", "celery"],
    ["--tag", "2.10.4-python3.12", "--arch", "arm64", "--executor", "local"],
    ["--tag", "3.3.2-python3.12", "--arch", "amd64", "--executor", "celery", "--flower", "--workers", "2"],
    ["--tag", "3.3.2-python3.12", "--arch", "arm64", "--executor", "local"],
    ["--tag", "2.7.3", "--executor", "celery"],
]


@pytest.mark.parametrize("flags", VARIANTS, ids=lambda f: "-".join(f[1::2]))
def test_docker_compose_accepts_every_variant(tmp_path, flags):
    afc("init", str(tmp_path), *flags, check=True)
    resolved = subprocess.run(["docker", "compose", "config", "--format", "json"], cwd=tmp_path,
                              capture_output=True, text=True)
    assert resolved.returncode == 0, resolved.stderr
    model = json.loads(resolved.stdout)
    assert model["name"] == json.loads(json.dumps(model["name"])) and model["name"]
    for name, service in model["services"].items():
        assert service["platform"].startswith("linux/"), name
    check = afc("config", "--check", project=tmp_path)
    assert check.returncode == 0, check.stderr


def test_override_file_is_applied_and_checked(tmp_path):
    afc("init", str(tmp_path), "--executor", "local", check=True)
    (tmp_path / "compose.override.yaml").write_text("services:\n  scheduler:\n    environment:\n      EXTRA: '1'\n")
    assert afc("config", "--check", project=tmp_path).returncode == 0
    (tmp_path / "compose.override.yaml").write_text("services:\n  scheduler:\n    depends_on: [nosuch]\n")
    broken = afc("config", "--check", project=tmp_path)
    assert broken.returncode == 3 and "docker compose rejects the stack" in broken.stderr
    assert "nosuch" in broken.stderr


def test_engine_probe_reports_versions():
    info = engine.Probe().details
    assert engine.compose_version() and info.server_version and info.arch in ("amd64", "arm64")
    assert engine.Probe().facts.start_interval == info.start_interval
