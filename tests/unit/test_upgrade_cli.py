"""`afc upgrade`: the refusals, which all happen before any Docker call (DOCKER_HOST points nowhere)."""
import pytest

from airflow_compose.commands.upgrade import target_image
from airflow_compose.stack import tags
from tests.helpers import run_afc, standin_flags


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("up") / "up-unit"
    done = run_afc("init", str(root), *standin_flags("2.10.4"), "--port", "18499")
    assert done.returncode == 0, done.stderr
    return root


def env_of(root):
    return (root / ".env").read_text()


@pytest.mark.parametrize("to, words", [
    ("2.9.3", ["older than the project's 2.10.4", "does not downgrade"]),
    ("2.10.4", ["already runs Airflow 2.10.4", "same release", "--to 3.3.2"]),
    ("2.10.4-python3.12", ["same release", "afc init --force --tag 2.10.4-python3.12"]),
    ("2.11.2-python3.8", ["Python 3.8 is not published for Airflow 2.11", "3.10, 3.11, 3.12"]),
    ("slim-3.3.2-python3.12", ["slim image", "lacks the providers"]),
    ("3.3", ["not an apache/airflow image tag"]),
])
def test_refused_before_anything_changes(project, to, words):
    before = env_of(project)
    done = run_afc("-C", str(project), "upgrade", "--to", to, "--yes")
    assert done.returncode == 2, done.stderr
    for word in words:
        assert word in done.stderr
    assert "Traceback" not in done.stderr and "fix:" in done.stderr
    assert env_of(project) == before and not (project / "backups").exists()


def test_no_terminal_and_no_yes_is_refused(project):
    before = env_of(project)
    done = run_afc("-C", str(project), "upgrade", "--to", "3.3.2-python3.12")
    assert done.returncode == 2
    assert "afc-standin/airflow:2.10.4-python3.11 → afc-standin/airflow:3.3.2-python3.12" in done.stderr
    assert "api-server + dag-processor" in done.stderr
    assert "refusing to upgrade without confirmation" in done.stderr and "--yes" in done.stderr
    assert env_of(project) == before


def test_outside_a_project(tmp_path):
    done = run_afc("-C", str(tmp_path), "upgrade", "--to", "3.3.2", "--yes")
    assert done.returncode == 3 and "not an afc project" in done.stderr


def test_target_keeps_the_repository_unless_given():
    current = tags.ImageRef("afc-standin/airflow", "2.10.4")
    unpinned = tags.parse_tag("2.10.4")
    assert target_image(current, unpinned, "2.11.2").text == "afc-standin/airflow:2.11.2"
    assert target_image(current, unpinned, "apache/airflow:3.3.2").text == "apache/airflow:3.3.2"
    assert target_image(current, unpinned, "localhost:5000/airflow:3.3.2").repository == "localhost:5000/airflow"


def test_a_bare_release_keeps_the_pinned_python():
    current = tags.ImageRef("afc-standin/airflow", "2.10.4-python3.11")
    pinned = tags.parse_tag("2.10.4-python3.11")
    assert target_image(current, pinned, "2.11.2").text == "afc-standin/airflow:2.11.2-python3.11"
    assert target_image(current, pinned, "3.3.2-python3.12").text == "afc-standin/airflow:3.3.2-python3.12"
