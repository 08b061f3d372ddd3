"""Two folders whose names clash, on the real engine: `a/AfcIdClash` and `b/afcidclash`, both projects from
before names were unique (afc init recorded `afcidclash` for both). The first runs Postgres; the second is refused by
every command that would touch the stack, and the first stack and its database volume are untouched. A new
`afc init` picks a name the running stack does not hold. Ports 18720–18729, project names afcidclash*.

Starts a container: run under the stack lock (`flock /tmp/afc-stack.lock …`)."""
from pathlib import Path

import pytest

from tests.helpers import afc, docker, standin_flags

NAME = "afcidclash"


def record_old_name(project: Path) -> None:
    """Make the project one made by afc before names were unique: it recorded the folder's name normalised,
    which is `afcidclash` for both folders."""
    env = project / ".env"
    env.write_text("".join(f"AFC_PROJECT_NAME={NAME}\n" if line.startswith("AFC_PROJECT_NAME=") else line
                           for line in env.read_text().splitlines(keepends=True)))


def cleanup() -> None:
    ids = docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={NAME}").stdout.split()
    if ids:
        docker("rm", "-f", *ids, check=False)
    volumes = docker("volume", "ls", "-q", "--filter", f"label=com.docker.compose.project={NAME}").stdout.split()
    if volumes:
        docker("volume", "rm", "-f", *volumes, check=False)
    docker("network", "rm", f"{NAME}_default", check=False)


@pytest.fixture
def clash(tmp_path):
    cleanup()
    first, second = tmp_path / "a" / "AfcIdClash", tmp_path / "b" / NAME
    for folder, port in ((first, 18720), (second, 18721)):
        afc("init", str(folder), *standin_flags("2.10.4"), "--executor", "local", "--port", str(port), check=True)
        record_old_name(folder)
    yield first, second
    afc("down", "--volumes", "--yes", project=first)
    cleanup()


def postgres_of_first() -> list[str]:
    return docker("ps", "-q", "--no-trunc", "--filter", f"label=com.docker.compose.project={NAME}",
                  "--filter", "label=com.docker.compose.service=postgres", "--filter", "status=running").stdout.split()


def volumes() -> list[str]:
    return sorted(docker("volume", "ls", "-q", "--filter", f"label=com.docker.compose.project={NAME}").stdout.split())


def test_a_second_folder_cannot_take_over_or_delete_the_first_folders_stack(clash, tmp_path):
    first, second = clash
    afc("up", "postgres", "--timeout", "180", project=first, check=True)
    running, held = postgres_of_first(), volumes()
    assert len(running) == 1 and held == [f"{NAME}_postgres-data"]

    for command in (["up", "postgres"], ["down", "--volumes", "--yes"], ["stop"], ["backup"], ["status"]):
        refused = afc(*command, project=second)
        assert refused.returncode == 3, (command, refused.stderr)
        assert str(first) in refused.stderr and f"'{NAME}'" in refused.stderr, refused.stderr
        assert "AFC_PROJECT_NAME=" in refused.stderr and str(second / ".env") in refused.stderr
    assert postgres_of_first() == running, "the first stack's database container was not touched"
    assert volumes() == held, "the first stack's database volume is still there"
    assert not (second / "backups").exists(), "the refused backup wrote nothing"

    fresh = tmp_path / "c" / NAME
    afc("init", str(fresh), *standin_flags("2.10.4"), "--port", "18722", check=True)
    recorded = [line for line in (fresh / ".env").read_text().splitlines() if line.startswith("AFC_PROJECT_NAME=")]
    assert recorded and recorded[0] != f"AFC_PROJECT_NAME={NAME}", "a new project does not take a name in use"

    given = afc("init", str(tmp_path / "d"), env={"AFC_PROJECT_NAME": NAME})
    assert given.returncode == 3 and str(first) in given.stderr, given.stderr
    assert not (tmp_path / "d" / ".env").exists()

    afc("stop", project=first, check=True)
    stopped = afc("up", "postgres", project=second)
    assert stopped.returncode == 3 and str(first) in stopped.stderr, "stopped containers still name their folder"
    assert afc("status", "--json", project=first).returncode == 0, "the first folder still owns its stack"
    assert volumes() == held


def test_the_engine_reports_the_working_folder_compose_records(clash):
    from airflow_compose import engine

    first, _second = clash
    assert engine.stack_claim(NAME) == engine.StackClaim(NAME, (), ())
    afc("up", "postgres", "--no-wait", project=first, check=True)
    claim = engine.stack_claim(NAME)
    assert claim.working_dirs == (str(first),) and claim.volumes == (f"{NAME}_postgres-data",)
