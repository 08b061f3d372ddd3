"""Pull before the clock, against a real registry (Debian's docker-registry on 127.0.0.1, scripts/registry):
`afc up` pulls what is missing with one progress line per image, then starts; a missing tag, an unknown
repository or a refused login fails with exit 4 before any container, network or volume exists."""
from __future__ import annotations

import json
import re
import secrets
import subprocess
import time
from pathlib import Path

import pytest

from tests import services
from tests.helpers import STANDIN, afc, docker

PROJECT = "afc-pull-test"
AIRFLOW = "afc-standin/airflow:2.10.4-python3.11"


@pytest.fixture(scope="module")
def registry():
    with services.registry() as addresses:
        yield addresses


def _unique_image(base: str, target: str, context: Path) -> None:
    """`base` plus one layer of random bytes, tagged `target`: pulling it downloads a layer no image holds."""
    context.mkdir()
    (context / "blob").write_bytes(secrets.token_bytes(8 * 1024 * 1024))
    (context / "Dockerfile").write_text(f"FROM {base}\nCOPY blob /afc-pull-test-blob\n")
    built = subprocess.run(["docker", "build", "-q", "-t", target, str(context)], capture_output=True, text=True,
                           env={"DOCKER_BUILDKIT": "0", "PATH": "/usr/local/bin:/usr/bin:/bin"})
    assert built.returncode == 0, built.stderr


@pytest.fixture(scope="module")
def pushed(registry, tmp_path_factory):
    """The stand-ins of a LocalExecutor stack in the open registry under a fresh tag, absent from the engine."""
    token = secrets.token_hex(4)
    folder = tmp_path_factory.mktemp("images")
    images = {"airflow": (AIRFLOW, f"{registry[0]}/afc-pull-test-{token}/airflow:2.10.4"),
              "postgres": (STANDIN["postgres"], f"{registry[0]}/afc-pull-test-{token}/postgres:16")}
    for role, (base, target) in images.items():
        _unique_image(base, target, folder / role)
        docker("push", target)
        docker("rmi", target)
    yield {role: target for role, (_base, target) in images.items()}
    for _base, target in images.values():
        docker("rmi", target, check=False)


def stack_objects(project: str) -> dict[str, list[str]]:
    label = f"label=com.docker.compose.project={project}"
    return {kind: docker(*command, "--filter", label, "--quiet").stdout.split()
            for kind, command in {"containers": ["ps", "--all"], "networks": ["network", "ls"],
                                  "volumes": ["volume", "ls"]}.items()}


def test_up_pulls_the_missing_images_with_progress_then_starts(tmp_path, pushed):
    project = tmp_path / PROJECT
    afc("init", str(project), "--image", pushed["airflow"], "--postgres-image", pushed["postgres"],
        "--executor", "local", "--port", "18611", check=True)
    try:
        began = time.monotonic()
        up = afc("up", "--timeout", "300", project=project)
        took = time.monotonic() - began
        assert up.returncode == 0, up.stderr
        lines = up.stderr.splitlines()
        pulled = [line for line in lines if line.startswith("pulled ")]
        assert sorted(re.sub(r" \(.*", "", line).removeprefix("pulled ") for line in pulled) == \
            sorted(pushed.values()), "one line per pulled image"
        first_service_line = next(i for i, line in enumerate(lines) if re.match(r"\[\s*[\d.]+s\] ", line))
        assert all(lines.index(line) < first_service_line for line in pulled), "the pulls end before the start"
        assert re.search(r"healthy after [\d.]+s \(after pulling 2 image\(s\) in [\d.]+s\)", up.stderr)
        print(f"\nafc up with 2 pulls: {took:.1f}s in all\n" + "\n".join(pulled + [lines[-3]]))
        again = afc("up", project=project)
        assert again.returncode == 0 and "pulled " not in again.stderr, "present images are not pulled again"
    finally:
        afc("down", "--volumes", "--yes", project=project)


CASES = {
    "missing-tag": ("--postgres-image", "{open}/afc-pull-test/postgres:no-such-tag", "manifest unknown",
                    "AFC_POSTGRES_IMAGE in .env"),
    "unknown-repository": ("--postgres-image", "{open}/afc-pull-test/no-such-repository:16", "manifest unknown",
                           "AFC_POSTGRES_IMAGE in .env"),
    "refused-login": ("--image", "{auth}/afc-pull-test/airflow:2.10.4", "no basic auth credentials",
                      "AIRFLOW_IMAGE_NAME in .env"),
}


@pytest.mark.parametrize("case", CASES)
def test_an_image_the_registry_refuses_fails_before_anything_exists(tmp_path, registry, case):
    option, reference, words, setting = CASES[case]
    reference = reference.format(open=registry[0], auth=registry[1])
    project = tmp_path / f"afc-pull-{case}"
    flags = {"--image": AIRFLOW, "--postgres-image": STANDIN["postgres"], option: reference}
    afc("init", str(project), *[part for pair in flags.items() for part in pair], "--executor", "local",
        "--port", "18612", check=True)
    up = afc("up", "--timeout", "60", project=project)
    assert up.returncode == 4, up.stderr
    assert f"error: cannot pull the image {reference}: " in up.stderr and words in up.stderr
    assert "nothing was started" in up.stderr and f"{reference} comes from {setting}" in up.stderr
    assert "fix:" in up.stderr and "Traceback" not in up.stderr
    assert stack_objects(project.name) == {"containers": [], "networks": [], "volumes": []}


def test_a_stored_login_the_registry_refuses(tmp_path, registry):
    """Logged in with a password the registry no longer accepts: its own `unauthorized` words, exit 4."""
    config = tmp_path / "docker-config"
    config.mkdir()
    plugins = Path.home() / ".docker" / "cli-plugins"
    if plugins.exists():
        (config / "cli-plugins").symlink_to(plugins)
    import base64

    (config / "config.json").write_text(json.dumps(
        {"auths": {registry[1]: {"auth": base64.b64encode(b"afc:not-the-password").decode()}}}))
    project = tmp_path / "afc-pull-stale-login"
    reference = f"{registry[1]}/afc-pull-test/airflow:2.10.4"
    afc("init", str(project), "--image", reference, "--postgres-image", STANDIN["postgres"], "--executor", "local",
        "--port", "18613", check=True)
    up = afc("up", "--timeout", "60", project=project, env={"DOCKER_CONFIG": str(config)})
    assert up.returncode == 4, up.stderr
    assert "unauthorized: authentication required" in up.stderr and "refused the login" in up.stderr
    assert stack_objects(project.name) == {"containers": [], "networks": [], "volumes": []}
