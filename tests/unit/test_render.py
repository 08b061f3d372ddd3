"""Rendering: golden files for a matrix of variants, determinism, and the properties every stack must have."""
import os
from pathlib import Path

import pytest

from airflow_compose.stack.render import render, to_yaml
from airflow_compose.stack.spec import EngineFacts, build_spec
from tests.helpers import VERSIONS, assert_valid, load_yaml, values

GOLDEN = Path(__file__).parent / "golden"
MATRIX = [(v, a, e) for v in VERSIONS for a in ("amd64", "arm64") for e in ("celery", "local")]


def spec_for(version, arch, executor, **extra):
    return build_spec(values(AIRFLOW_IMAGE_NAME=VERSIONS[version], AFC_ARCH=arch, AFC_EXECUTOR=executor, **extra),
                      EngineFacts(arch="amd64", start_interval=False))


@pytest.mark.parametrize("version, arch, executor", MATRIX)
def test_matches_golden_file(version, arch, executor):
    text = to_yaml(render(spec_for(version, arch, executor), EngineFacts("amd64", False)))
    golden = GOLDEN / f"{version}-{arch}-{executor}.yaml"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text(), f"rendering changed; review and run UPDATE_GOLDEN=1 pytest {__file__}"


def test_rendering_is_deterministic_and_has_no_anchors():
    spec = spec_for("3.3.2", "amd64", "celery")
    first = to_yaml(render(spec, EngineFacts("amd64", True)))
    assert first == to_yaml(render(spec, EngineFacts("amd64", True)))
    assert "&id" not in first and "*id" not in first


@pytest.mark.parametrize("version, arch, executor", MATRIX)
@pytest.mark.parametrize("start_interval", [False, True])
def test_valid_against_compose_spec_schema(version, arch, executor, start_interval):
    text = to_yaml(render(spec_for(version, arch, executor, AFC_FLOWER="true"), EngineFacts("amd64", start_interval)))
    assert_valid("compose-spec.json", load_yaml(text))


@pytest.mark.parametrize("version, arch, executor", MATRIX)
def test_stack_properties(version, arch, executor):
    spec = spec_for(version, arch, executor)
    doc = load_yaml(to_yaml(render(spec, EngineFacts("amd64", False))))
    services = doc["services"]
    expected = {"postgres", "init", "scheduler", "triggerer", "log-cleaner"}
    expected |= {"api-server", "dag-processor"} if version.startswith("3") else {"webserver"}
    expected |= {"redis", "worker"} if executor == "celery" else set()
    assert set(services) == expected
    assert doc["name"] == "demo"
    for name, service in services.items():
        assert service["platform"] == f"linux/{arch}"
        if name != "init":
            assert "healthcheck" in service, name
            assert service["restart"] in ("unless-stopped", "always")
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), port
        if name == "log-cleaner":
            assert service["user"] == "1000:0" and service["volumes"] == ["./logs:/opt/airflow/logs"]
            assert service["environment"] == {"AFC_LOG_RETENTION_DAYS": "15"} and "depends_on" not in service
        elif name not in ("postgres", "redis"):
            assert service["user"] == "1000:0"
            env = service["environment"]
            assert env["AIRFLOW__CORE__FERNET_KEY"].startswith("${AFC_FERNET_KEY")
            assert env["AIRFLOW__CORE__EXECUTOR"] == ("CeleryExecutor" if executor == "celery" else "LocalExecutor")
            if name != "init":
                assert service["depends_on"]["init"]["condition"] == "service_completed_successfully"
                assert service["depends_on"]["postgres"]["condition"] == "service_started"  # no start_interval
            if version.startswith("3"):
                assert env["AIRFLOW__API_AUTH__JWT_SECRET"].startswith("${AFC_JWT_SECRET")
                assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://api-server:8080/execution/"
                assert "FabAuthManager" in env["AIRFLOW__CORE__AUTH_MANAGER"]
            for mount in ("dags", "logs", "plugins", "config"):
                assert f"./{mount}:/opt/airflow/{mount}" in service["volumes"]
    assert "ports" not in services["postgres"]
    assert services["postgres"]["volumes"] == ["postgres-data:/var/lib/postgresql/data"]
    if executor == "celery":
        assert services["worker"]["deploy"]["replicas"] == 1
        assert "ports" not in services["redis"]
    text = to_yaml(render(spec, EngineFacts("amd64", False)))
    assert "secret-" not in text, "secret values never reach compose.yaml"
    assert "airflow:airflow@" not in text


def test_start_interval_only_with_a_capable_engine():
    spec = spec_for("3.3.2", "amd64", "celery")
    with_it = render(spec, EngineFacts("amd64", True))["services"]
    without = render(spec, EngineFacts("amd64", False))["services"]
    for name, service in with_it.items():
        if "healthcheck" in service:
            assert service["healthcheck"]["start_interval"] and service["healthcheck"]["start_period"]
            assert "start_interval" not in without[name]["healthcheck"]


def test_nothing_waits_on_a_health_check_without_start_interval():
    """Without start_interval a check runs every 30 s from the start: a dependency on health would cost up to 30 s
    a step, so it waits for the start instead (and afc judges health itself); every other condition stays."""
    spec = spec_for("3.3.2", "amd64", "celery", AFC_FLOWER="true")
    capable = render(spec, EngineFacts("amd64", True))["services"]
    older = render(spec, EngineFacts("amd64", False))["services"]
    healthy = 0
    for name, service in capable.items():
        for other, wait in service.get("depends_on", {}).items():
            assert wait["condition"] == spec.dependencies(name)[other]
            expected = "service_started" if wait["condition"] == "service_healthy" else wait["condition"]
            assert older[name]["depends_on"][other]["condition"] == expected
            healthy += wait["condition"] == "service_healthy"
    assert healthy >= 10 and capable["flower"]["depends_on"]["worker"]["condition"] == "service_healthy"


def test_workers_flower_and_published_database_ports():
    spec = spec_for("2.10.4", "amd64", "celery", AFC_WORKERS="3", AFC_FLOWER="true", AFC_POSTGRES_PORT="5433",
                    AFC_HOST="0.0.0.0", AFC_PORT="9090")
    services = render(spec, EngineFacts("amd64", False))["services"]
    assert services["worker"]["deploy"]["replicas"] == 3
    assert services["flower"]["ports"] == ["0.0.0.0:5555:5555"]
    assert services["postgres"]["ports"] == ["0.0.0.0:5433:5432"]
    assert services["webserver"]["ports"] == ["0.0.0.0:9090:8080"]


def test_every_airflow_check_heals_and_the_log_cleaner_follows_the_setting():
    for start_interval in (False, True):
        services = render(spec_for("3.3.2", "amd64", "celery"), EngineFacts("amd64", start_interval))["services"]
        for name, service in services.items():
            test = service.get("healthcheck", {}).get("test", [])
            healing = name not in ("postgres", "redis", "init")
            assert (test[:1] == ["CMD-SHELL"] and f"afc-heal: {name} on" in test[1]) is healing, name
            if healing:  # the calm spell after a success is Swarm's alone
                assert "-lt 30 ]; then exit 0" not in test[1]
            if test:
                assert service["healthcheck"]["interval"] == "30s", name
        assert ".active_queues()" in services["worker"]["healthcheck"]["test"][1]  # the queue_check script
    assert "log-cleaner" not in render(spec_for("2.10.4", "amd64", "local", AFC_LOG_RETENTION_DAYS="0"),
                                       EngineFacts("amd64", False))["services"]
    kept = render(spec_for("2.10.4", "amd64", "local", AFC_LOG_RETENTION_DAYS="3"), EngineFacts("amd64", False))
    assert kept["services"]["log-cleaner"]["environment"] == {"AFC_LOG_RETENTION_DAYS": "3"}
