"""Pulling before the clock: which images a command pulls, how a registry's refusal is read, how progress shows."""
from __future__ import annotations

import pytest

from airflow_compose import engine, ui
from airflow_compose.commands import pull
from airflow_compose.errors import ENVIRONMENT, EnvironmentProblem, StackError
from airflow_compose.stack import settings
from airflow_compose.stack.spec import EngineFacts, build_spec


def spec(**overrides):
    values = settings.effective({}, {}, None)
    values.update({name: "x" * 32 for name in settings.SECRET_NAMES})
    values.update(AFC_PROJECT_NAME="demo", AIRFLOW_UID="1000", AIRFLOW_IMAGE_NAME="apache/airflow:2.10.4-python3.12",
                  AFC_POSTGRES_IMAGE="postgres:16", AFC_REDIS_IMAGE="redis:7.2-bookworm")
    values.update(overrides)
    return build_spec(values, EngineFacts(arch="amd64", start_interval=False))


def test_stack_images_follow_the_services_started_and_name_their_setting():
    everything = pull.stack_images(spec(), ["postgres", "redis", "init", "scheduler", "worker"])
    assert everything == {"apache/airflow:2.10.4-python3.12": "AIRFLOW_IMAGE_NAME in .env",
                          "postgres:16": "AFC_POSTGRES_IMAGE in .env", "redis:7.2-bookworm": "AFC_REDIS_IMAGE in .env"}
    assert pull.stack_images(spec(), ["postgres"]) == {"postgres:16": "AFC_POSTGRES_IMAGE in .env"}


def test_an_image_afc_built_is_never_pulled():
    built = spec(AIRFLOW_IMAGE_NAME="demo-airflow:0123456789ab", AFC_BASE_IMAGE="apache/airflow:2.10.4-python3.12")
    assert list(pull.stack_images(built, ["postgres", "scheduler"])) == ["postgres:16"]


# What the engine (20.10 and 26) printed for each case, pulling from Debian's docker-registry 2.8 on 127.0.0.1
# and, for an unknown or private repository, the line Docker Hub answers with.
REFUSALS = [
    ("Error response from daemon: manifest for localhost:5055/afc/redis:nope not found: manifest unknown: "
     "manifest unknown", "no such tag"),
    ("Error response from daemon: pull access denied for nosuch/airflow, repository does not exist or may require "
     "'docker login': denied: requested access to the resource is denied", "repository does not exist"),
    ('Error response from daemon: Head "http://localhost:5056/v2/afc/redis/manifests/7.2": no basic auth credentials',
     "refused the login"),
    ("Error response from daemon: unauthorized: authentication required", "refused the login"),
    ('Error response from daemon: Get "http://localhost:5999/v2/": dial tcp 127.0.0.1:5999: connect: connection '
     "refused", "cannot be reached"),
]


@pytest.mark.parametrize("message, fix", REFUSALS)
def test_a_registry_refusal_is_an_environment_problem_in_its_own_words(message, fix):
    problem = engine.classify("pull the image x", message)
    assert isinstance(problem, EnvironmentProblem) and problem.exit_code == ENVIRONMENT
    assert message.removeprefix("Error response from daemon: ") in problem.message
    assert fix in problem.hint


def test_other_docker_failures_stay_stack_errors():
    assert isinstance(engine.classify("start the stack", "Error response from daemon: OCI runtime create failed"),
                      StackError)


def test_a_failed_pull_names_the_setting_to_fix(monkeypatch):
    def refuse(references):
        yield engine.PullProgress("redis:nope", finished=True, error="manifest unknown")
        raise engine.classify("pull the image redis:nope", "Error response from daemon: manifest unknown")

    monkeypatch.setattr(engine, "missing_images", lambda references: ["redis:nope"])
    monkeypatch.setattr(engine, "pull_images", refuse)
    seen = []
    with pytest.raises(EnvironmentProblem) as raised:
        pull.pull_missing({"postgres:16": "AFC_POSTGRES_IMAGE in .env", "redis:nope": "AFC_REDIS_IMAGE in .env"},
                          seen.append)
    assert raised.value.message.endswith("nothing was started")
    assert "redis:nope comes from AFC_REDIS_IMAGE in .env" in raised.value.hint
    assert seen and seen[0].error == "manifest unknown"


def test_present_images_are_not_pulled(monkeypatch):
    monkeypatch.setattr(engine, "missing_images", lambda references: [])
    monkeypatch.setattr(engine, "pull_images", lambda references: pytest.fail("nothing to pull"))
    assert pull.pull_missing({"postgres:16": "AFC_POSTGRES_IMAGE in .env"}, lambda event: None).pulled == ()


def test_without_a_terminal_each_image_is_one_line(capsys):
    view = ui.PullView()
    view.update(engine.PullProgress("redis:7.2", layers=2, done=1, status="Pull complete"))
    view.update(engine.PullProgress("redis:7.2", layers=2, done=2, status="Downloaded newer image", finished=True))
    view.update(engine.PullProgress("postgres:nope", finished=True, error="manifest unknown"))
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("pulled redis:7.2 (2 layers) in ")
    assert lines[1] == "could not pull postgres:nope: manifest unknown"
