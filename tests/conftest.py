"""Test tiers: tests/unit (no Docker), tests/docker (real engine, small images), tests/e2e (stand-in Airflow).

Docker and e2e tests need a real engine and the compose v2 plugin. In CI (CI=true) a missing engine fails
the run; on a developer's machine without Docker those tiers are skipped, loudly.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

TIERS = ("unit", "docker", "e2e")


def pytest_collection_modifyitems(items):
    for item in items:
        tier = Path(str(item.fspath)).parent.name
        if tier in TIERS:
            item.add_marker(getattr(pytest.mark, tier))


def _engine_problem() -> str:
    if not shutil.which("docker"):
        return "the docker CLI is not installed"
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        return "the Docker engine is not reachable (docker info failed)"
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode != 0:
        return "the Docker Compose v2 plugin is missing (run `bash scripts/ensure-compose`)"
    return ""


def pytest_report_header(config):
    def ask(*args: str) -> str:
        try:
            done = subprocess.run(list(args), capture_output=True, text=True, timeout=20)
            return done.stdout.strip() or done.stderr.strip().splitlines()[-1]
        except Exception as error:  # noqa: BLE001 - a header line, never a failure
            return f"unavailable ({error})"
    return [
        f"docker client: {ask('docker', 'version', '--format', '{{.Client.Version}}')}",
        f"docker compose: {ask('docker', 'compose', 'version', '--short')}",
        "docker engine: " + ask("docker", "version", "--format", "{{.Server.Version}} (API {{.Server.APIVersion}})"),
    ]


_problem: list[str] = []


def pytest_runtest_setup(item):
    if not any(item.iter_markers(name) for name in ("docker", "e2e")):
        return
    if not _problem:
        _problem.append(_engine_problem())
    if _problem[0]:
        if os.environ.get("CI"):
            pytest.exit(f"CI needs a Docker engine for the docker/e2e tests: {_problem[0]}", returncode=3)
        pytest.skip(f"!!! NO DOCKER ENGINE, Docker tiers skipped: {_problem[0]} !!!")
