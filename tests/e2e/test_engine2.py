"""The Celery scenario of test_stack (up, a DAG run on a worker, logs, status, health, scale, down/up) on a
current engine: engine 2, Debian trixie's Docker 26.1.5 (API 1.45), started by scripts/engine2 beside the
machine's. afc sees API >= 1.44 there, so every health check probes with `start_interval`."""
from __future__ import annotations

import pytest

from tests import services
from tests.e2e import test_stack as scenario

STACKS = [("3.3.2", "celery", 18092)]


@pytest.fixture(scope="module")
def engine2_host():
    with services.engine2() as host:
        yield host


@pytest.mark.parametrize("version, executor, port", STACKS, ids=[f"{v}-{e}" for v, e, _ in STACKS])
def test_full_scenario_on_engine2(tmp_path, monkeypatch, engine2_host, version, executor, port):
    monkeypatch.setenv("DOCKER_HOST", engine2_host)   # afc, docker and docker compose of the scenario
    scenario.test_full_scenario(tmp_path, version, executor, port)
    rendered = (tmp_path / f"e2e-{version.replace('.', '')}-{executor}" / "compose.yaml").read_text()
    assert rendered.count("start_interval:") >= 5, "health checks probe every 1-2 s while starting"
