"""No leftovers on the real engine: repeated builds keep two images of each kind (current and previous), an
anonymous volume (Redis' `/data`) survives a recreation of its container and goes with `afc down`, and after
`afc down --volumes --yes` nothing of the project is left: no container, network, volume or built image."""
from __future__ import annotations

import json

import pytest

from tests.helpers import afc, docker, standin_flags

NAME = "lo-leftovers"
REPOSITORY = f"{NAME}-airflow"


def built_images() -> list[str]:
    return sorted(docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}", REPOSITORY).stdout.split())


def labelled(kind: str) -> list[str]:
    every = ["--all"] if kind == "container" else []
    return docker(kind, "ls", "-q", *every, "--filter", f"label=com.docker.compose.project={NAME}").stdout.split()


def redis_volumes() -> list[str]:
    ids = docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={NAME}",
                 "--filter", "label=com.docker.compose.service=redis").stdout.split()
    return [m["Name"] for cid in ids for m in json.loads(docker("inspect", cid).stdout)[0]["Mounts"]
            if m["Type"] == "volume"]


def volume_exists(name: str) -> bool:
    return docker("volume", "inspect", name, check=False).returncode == 0


@pytest.fixture
def project(tmp_path):
    root = tmp_path / NAME
    afc("init", str(root), *standin_flags("2.10.4"), "--port", "18320", check=True)
    try:
        yield root
    finally:
        afc("down", "--volumes", "--yes", project=root)
        for image in built_images():
            docker("image", "rm", image, check=False)


def test_builds_keep_the_current_and_the_previous_image(project):
    made = []
    for number in range(3):  # DAGs baked in: each DAG change is a new image
        (project / "dags" / "dag.py").write_text(f"VERSION = {number}\n")
        done = afc("swarm", "build", project=project, check=True)
        made.append(done.stdout.strip().splitlines()[-1])
        assert set(built_images()) == set(made[-2:]), (made, built_images(), done.stderr)
    assert f"removed superseded images (the current and the previous one are kept): {made[0]}" in done.stderr
    afc("down", "--volumes", "--yes", project=project, check=True)
    assert built_images() == []


def test_anonymous_volumes_go_with_their_containers(project):
    afc("up", "redis", "--timeout", "120", project=project, check=True)
    first = redis_volumes()
    assert len(first) == 1 and len(first[0]) == 64, first  # the image's VOLUME /data: anonymous
    env = project / ".env"
    env.write_text(env.read_text() + "AFC_REDIS_PORT=18321\n")  # a changed service: compose recreates it
    afc("up", "redis", "--timeout", "120", project=project, check=True)
    assert redis_volumes() == first, "the recreated container keeps its data volume"
    afc("down", project=project, check=True)
    assert not volume_exists(first[0]), "afc down removes the anonymous volume compose leaves behind"

    afc("up", "redis", "--timeout", "120", project=project, check=True)
    second = redis_volumes()
    afc("down", "--volumes", "--yes", project=project, check=True)
    assert not volume_exists(second[0])
    for kind in ("container", "network", "volume"):
        assert labelled(kind) == [], f"{kind}s of the project are left"
    assert built_images() == []


def test_checking_dags_of_a_never_started_project_leaves_nothing(project):
    (project / "dags" / "hello.py").write_text(
        "from airflow import DAG\nimport datetime\n"
        "with DAG('hello', start_date=datetime.datetime(2024, 1, 1), schedule=None):\n    pass\n")
    # (Airflow's safe mode parses only files that mention both "airflow" and "dag")
    (project / "dags" / "broken.py").write_text("from airflow import DAG\nimport not_a_module_anywhere\n")
    done = afc("dags", "check", project=project)
    assert done.returncode == 1 and "broken.py" in done.stdout + done.stderr, done.stderr
    assert labelled("container") == [] and labelled("network") == [] and labelled("volume") == []

    # a project that has containers keeps what it has: only what the one-off added would go
    afc("up", "postgres", project=project, check=True)
    networks, volumes = labelled("network"), labelled("volume")
    assert networks and volumes
    afc("dags", "check", project=project)
    assert labelled("network") == networks and labelled("volume") == volumes
