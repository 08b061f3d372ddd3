"""`afc build` on the real engine: a build on afc-standin/airflow:2.10.4-python3.11 adding an apt package (packages.txt) and,
offline, a pure-Python package from a wheel downloaded on the host, both usable in the running scheduler
(which runs as the image's user again); unchanged inputs
reuse the image, a changed requirements file rebuilds; a requirement that conflicts with the pinned Airflow
fails with pip's own message and leaves the project on its image. Build times are printed."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import afc, docker, standin_flags, status_json

PORT = 18310
NAME = "bd-build"
PACKAGE, VERSION = "toolz", "1.0.0"
WHEELS = Path(__file__).resolve().parents[2] / ".cache" / "test-wheels"


def wheel() -> Path:
    """The package's wheel, downloaded once on the host (builds themselves never reach the network)."""
    found = sorted(WHEELS.glob(f"{PACKAGE}-{VERSION}-*.whl"))
    if not found:
        WHEELS.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                        "--dest", str(WHEELS), f"{PACKAGE}=={VERSION}"], check=True, timeout=300)
        found = sorted(WHEELS.glob(f"{PACKAGE}-{VERSION}-*.whl"))
    assert found, f"pip download left no {PACKAGE} wheel in {WHEELS}"
    return found[0]


def env_value(project: Path, key: str) -> str:
    for line in (project / ".env").read_text().splitlines():
        if line.startswith(f"{key}="):
            return line.split("=", 1)[1]
    return ""


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("bd") / NAME
    afc("init", str(root), *standin_flags("2.10.4"), "--executor", "local", "--port", str(PORT), check=True)
    (root / "wheels").mkdir()
    (root / "wheels" / wheel().name).write_bytes(wheel().read_bytes())
    (root / "requirements.txt").write_text(f"{PACKAGE}=={VERSION}\n")
    (root / "packages.txt").write_text("# a small tool from Debian's archive (apt needs the network; pip does not)\njq\n")
    built: list[str] = []
    try:
        yield root, built
    finally:
        afc("down", "--volumes", "--yes", project=root)
        for image in built:
            docker("image", "rm", image, check=False)


def timed_build(root: Path, *args: str):
    began = time.monotonic()
    done = afc("build", *args, project=root, timeout=900)
    return done, time.monotonic() - began


def test_offline_build_switches_the_project_and_runs(project):
    root, built = project
    # any image left from an earlier run would turn the cold build into a cached one
    for stale in docker("images", "-q", f"{NAME}-airflow").stdout.split():
        docker("image", "rm", "-f", stale, check=False)
    done, cold = timed_build(root)
    assert done.returncode == 0, done.stderr
    image = env_value(root, "AIRFLOW_IMAGE_NAME")
    built.append(image)
    assert image.startswith(f"{NAME}-airflow:") and image in done.stderr
    assert env_value(root, "AFC_BASE_IMAGE") == "afc-standin/airflow:2.10.4-python3.11"
    assert "Successfully installed toolz-1.0.0" in done.stderr, "the build's progress is shown"
    assert "Requirement already satisfied" not in done.stderr
    assert f"image: {image}" in (root / "compose.yaml").read_text(), "compose.yaml re-rendered for the new image"
    dockerfile = (root / "Dockerfile").read_text()
    assert "--no-index --find-links" in dockerfile and "FROM afc-standin/airflow:2.10.4-python3.11" in dockerfile
    assert dockerfile.index("apt-get install -y --no-install-recommends jq") < dockerfile.index("pip install")
    labels = docker("image", "inspect", "-f", "{{json .Config.Labels}}", image).stdout
    assert '"io.airflow-compose.base":"afc-standin/airflow:2.10.4-python3.11"' in labels
    env = docker("image", "inspect", "-f", "{{.Config.User}}", image).stdout.strip()
    assert env == "50000", "the image runs as the base's user again"

    again, cached = timed_build(root)
    assert again.returncode == 0 and "reused the existing image" in again.stderr
    assert env_value(root, "AIRFLOW_IMAGE_NAME") == image
    print(f"\n[{NAME}] afc build: cold {cold:.1f}s, unchanged inputs {cached:.1f}s")

    afc("up", "--timeout", "400", project=root, check=True)
    assert status_json(root)["healthy"]
    scheduler = docker("ps", "-q", "--filter", f"label=com.docker.compose.project={NAME}",
                       "--filter", "label=com.docker.compose.service=scheduler").stdout.split()[0]
    assert docker("inspect", "-f", "{{.Config.Image}}", scheduler).stdout.strip() == image
    probe = docker("exec", scheduler, "python", "-c", f"import {PACKAGE}; print({PACKAGE}.__version__)")
    assert probe.stdout.strip() == VERSION
    tool = docker("exec", scheduler, "jq", "--version")
    assert tool.stdout.strip().startswith("jq-"), "the apt package from packages.txt is installed"
    airflow = afc("airflow", "version", project=root, check=True)
    assert airflow.stdout.strip().endswith("2.10.4"), "Airflow itself was not changed by pip"


def test_changed_requirements_rebuild(project):
    root, built = project
    before = env_value(root, "AIRFLOW_IMAGE_NAME")
    (root / "requirements.txt").write_text(f"{PACKAGE}=={VERSION}\n# pinned for the e2e test\n")
    done, seconds = timed_build(root)
    assert done.returncode == 0, done.stderr
    after = env_value(root, "AIRFLOW_IMAGE_NAME")
    built.append(after)
    assert after != before and "built in" in done.stderr
    assert "Successfully installed toolz-1.0.0" in done.stderr, "the Python layer itself was rebuilt"
    print(f"\n[{NAME}] afc build after a requirements change: {seconds:.1f}s")


def test_conflicting_requirement_fails_with_pips_words(project):
    root, _built = project
    before_env = (root / ".env").read_text()
    before_compose = (root / "compose.yaml").read_text()
    (root / "requirements.txt").write_text(f"{PACKAGE}=={VERSION}\napache-airflow<2.10\n")
    done, _seconds = timed_build(root)
    assert done.returncode == 3, done.stderr
    assert "Cannot install apache-airflow<2.10 and apache-airflow==2.10.4" in done.stderr
    assert "The user requested apache-airflow==2.10.4" in done.stderr
    assert "Traceback" not in done.stderr
    assert (root / ".env").read_text() == before_env and (root / "compose.yaml").read_text() == before_compose
    leftovers = docker("ps", "-aq", "--filter", "status=exited", "--filter", "ancestor=afc-standin/airflow:2.10.4-python3.11")
    assert not [c for c in leftovers.stdout.split()
                if "pip install" in docker("inspect", "-f", "{{.Config.Cmd}}", c).stdout], "failed step removed"


def test_slim_build_adds_the_providers_at_the_images_constraints(tmp_path):
    """`afc build --slim` on the slim stand-in: the stack's provider comes back, at the version the base
    image's own constraints pin (offline: its wheel downloaded on the host), and the image imports it."""
    root = tmp_path / "bd-slim"
    afc("init", str(root), *standin_flags("2.10.4"), "--executor", "local", "--port", str(PORT + 1), check=True)
    pinned = docker("run", "--rm", "--entrypoint", "grep", "afc-standin/airflow:slim-2.10.4-python3.11",
                    "-i", "^apache-airflow-providers-postgres==", "/home/airflow/constraints.txt").stdout.strip()
    version = pinned.split("==")[1]
    (root / "wheels").mkdir()
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
                    "--dest", str(root / "wheels"), pinned], check=True, timeout=300)
    image = ""
    try:
        done, seconds = timed_build(root, "--slim")
        assert done.returncode == 0, done.stderr
        image = env_value(root, "AIRFLOW_IMAGE_NAME")
        assert env_value(root, "AFC_BASE_IMAGE") == "afc-standin/airflow:slim-2.10.4-python3.11"
        assert "--constraint /home/airflow/constraints.txt" in (root / "Dockerfile").read_text()
        probe = docker("run", "--rm", "--entrypoint", "python", image, "-c",
                       "import importlib.metadata as m, airflow.providers.postgres; "
                       "print(m.version('apache-airflow-providers-postgres'))")
        assert probe.stdout.strip() == version
        print(f"\n[bd-slim] afc build --slim: {seconds:.1f}s, postgres provider {version}")
    finally:
        if image:
            docker("image", "rm", image, check=False)
