import pytest

from airflow_compose.errors import UsageError
from airflow_compose.stack.spec import EngineFacts, build_spec, project_name_from
from tests.helpers import values

FACTS = EngineFacts("arm64", False)


@pytest.mark.parametrize("overrides, words", [
    ({"AFC_ARCH": "x86"}, "AFC_ARCH='x86' is not one of: auto, amd64, arm64"),
    ({"AFC_EXECUTOR": "kubernetes"}, "AFC_EXECUTOR='kubernetes' is not one of: celery, local"),
    ({"AFC_WORKERS": "0"}, "AFC_WORKERS=0 is out of range"),
    ({"AFC_WORKERS": "many"}, "AFC_WORKERS='many' is not a whole number"),
    ({"AFC_PORT": "70000"}, "AFC_PORT=70000 is out of range"),
    ({"AFC_PORT": "0"}, "AFC_PORT=0 is out of range"),
    ({"AFC_LOG_RETENTION_DAYS": "-1"}, "AFC_LOG_RETENTION_DAYS=-1 is out of range"),
    ({"AFC_LOG_RETENTION_DAYS": "2w"}, "AFC_LOG_RETENTION_DAYS='2w' is not a whole number"),
    ({"AFC_HOST": "localhost:80"}, "is not an IP address"),
    ({"AIRFLOW_IMAGE_NAME": "apache/airflow:slim-2.10.4"}, "lacks the providers this stack needs"),
    ({"AIRFLOW_IMAGE_NAME": "apache/airflow:slim-3.3.2", "AFC_EXECUTOR": "local"}, "celery, postgres, redis, fab"),
    ({"AIRFLOW_IMAGE_NAME": "apache/airflow:2.5.0"}, "older than afc supports"),
    ({"AFC_FLOWER": "maybe"}, "is not true or false"),
    ({"AFC_WEB_WORKERS": "two"}, "AFC_WEB_WORKERS='two' is not a whole number"),
    ({"AFC_WEB_WORKERS": "0"}, "AFC_WEB_WORKERS=0 is out of range"),
    ({"AFC_PROJECT_NAME": "My Project"}, "not a valid compose project name"),
    ({"AFC_FLOWER": "true", "AFC_FLOWER_PORT": "8080"}, "are both 8080"),
])
def test_bad_values_name_the_variable_and_the_fix(overrides, words):
    with pytest.raises(UsageError) as caught:
        build_spec(values(**overrides), FACTS)
    assert words in caught.value.message
    assert caught.value.hint


def test_slim_hint_names_the_regular_tag_and_build():
    with pytest.raises(UsageError) as caught:
        build_spec(values(AIRFLOW_IMAGE_NAME="apache/airflow:slim-2.10.4-python3.11"), FACTS)
    assert "2.10.4-python3.11" in caught.value.hint and "afc build" in caught.value.hint


def test_auto_arch_follows_the_engine_and_version_picks_the_topology():
    spec = build_spec(values(), FACTS)
    assert spec.arch == "arm64"
    assert spec.web_service == "api-server"
    assert "dag-processor" in spec.services
    two = build_spec(values(AIRFLOW_IMAGE_NAME="apache/airflow:2.10.4"), FACTS)
    assert two.web_service == "webserver" and "dag-processor" not in two.services


@pytest.mark.parametrize("name, expected", [("My Project", "my-project"), ("airflow", "airflow"),
                                            ("__x__", "x"), ("Ünïcode", "n-code")])
def test_project_names_are_valid_compose_names(name, expected):
    assert project_name_from(name) == expected


# --- facts derived from the spec: one source for the renderer, doctor, swarm, backup and upgrade ---------------

@pytest.mark.parametrize("version", ["2.10.4", "3.3.2"])
@pytest.mark.parametrize("variant", [{"AFC_EXECUTOR": "celery", "AFC_FLOWER": "true", "AFC_POSTGRES_PORT": "15432",
                                      "AFC_REDIS_PORT": "16379"},
                                     {"AFC_EXECUTOR": "local", "AFC_POSTGRES_PORT": "15432"},
                                     {"AFC_EXECUTOR": "local", "AFC_LITE": "true"}])
def test_derived_facts_agree_with_the_rendered_stack(version, variant):
    from airflow_compose.stack.render import render
    from airflow_compose.stack.spec import DATA_SERVICES
    from tests.helpers import VERSIONS, values

    vals = values(AIRFLOW_IMAGE_NAME=VERSIONS[version], **variant)
    spec = build_spec(vals, EngineFacts("amd64", True))
    services = render(spec, EngineFacts("amd64", True))["services"]  # conditions as designed (start_interval)
    assert list(services) == list(spec.compose_services)
    published = {port.service: f"{spec.host}:{port.host_port}:{port.container_port}" for port in spec.published_ports}
    assert published == {name: body["ports"][0] for name, body in services.items() if body.get("ports")}
    for name, body in services.items():
        assert spec.dependencies(name) == {k: v["condition"] for k, v in body.get("depends_on", {}).items()}
    assert set(spec.data_services) == set(services) & set(DATA_SERVICES)
    assert set(spec.airflow_services) == set(services) - set(DATA_SERVICES)
    everything = spec.with_dependencies([spec.web_service])
    assert spec.web_service in everything and ("init" in everything)
    assert all(dep in everything for name in everything for dep in spec.dependencies(name))


@pytest.mark.parametrize("version, setting, expected", [
    ("3.3.2", "auto", 1), ("3.3.2", "", 1), ("3.3.2", " auto ", 1), ("2.10.4", "auto", 2), ("2.10.4", "", 2),
    ("3.3.2", "3", 3), ("2.10.4", "1", 1),
])
def test_web_workers_auto_is_one_async_process_on_3_and_two_sync_workers_on_2(version, setting, expected):
    spec = build_spec(values(AIRFLOW_IMAGE_NAME=f"apache/airflow:{version}-python3.11", AFC_WEB_WORKERS=setting),
                      FACTS)
    assert spec.web_workers == expected


def test_a_bad_web_workers_value_says_auto_is_allowed():
    with pytest.raises(UsageError) as caught:
        build_spec(values(AFC_WEB_WORKERS="many"), FACTS)
    assert "auto" in caught.value.hint and "1 to 32" in caught.value.hint
