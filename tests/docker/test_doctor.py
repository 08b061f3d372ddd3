"""The real `afc doctor` against the real engine: in a project, outside one, with a port held by another
program, with DOCKER_HOST pointing nowhere, with permission denied on the socket, with compose hidden, with an
architecture the engine cannot run. No stack is started. Ports 18500–18599, project names doc-*."""
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_compose import engine
from airflow_compose.commands import doctor
from airflow_compose.errors import EnvironmentProblem
from tests.helpers import afc, standin_flags

PLUGIN_DIRS = ("/usr/local/lib/docker/cli-plugins", "/usr/local/libexec/docker/cli-plugins",
               "/usr/lib/docker/cli-plugins", "/usr/libexec/docker/cli-plugins")


def report(done: subprocess.CompletedProcess) -> dict:
    assert done.stdout.strip(), f"no JSON on stdout; stderr:\n{done.stderr}"
    document = json.loads(done.stdout)
    assert document["exit_code"] == done.returncode
    return document


def checks(document: dict) -> dict[str, dict]:
    return {c["name"]: c for c in document["checks"]}


def make_project(root: Path, name: str, port: int, *extra: str) -> Path:
    folder = root / name
    afc("init", str(folder), *standin_flags("2.10.4"), "--port", str(port), *extra, check=True)
    return folder


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return make_project(tmp_path_factory.mktemp("doctor"), "doc-ok", 18510, "--arch", "auto")


def test_inside_a_ready_project_every_check_runs_and_passes(project):
    done = afc("doctor", "--json", project=project)
    document = report(done)
    assert done.returncode == 0, done.stdout
    assert document["inside_project"] is True and document["project"] == str(project)
    assert [c["name"] for c in document["checks"]] == list(doctor.MACHINE_CHECKS + doctor.PROJECT_CHECKS)
    found = checks(document)
    info = engine.Probe().details
    for name in ("docker-cli", "engine", "compose", "cpus", "memory", "disk", "ports", "arch", "airflow-uid",
                 "project-files", "images"):
        assert found[name]["status"] == "ok", found[name]
    assert info.server_version in found["engine"]["finding"]
    assert found["engine-version"]["status"] == ("ok" if info.start_interval else "warn")
    assert "18510" in found["ports"]["finding"]
    assert found["images"]["finding"] == f"all 3 images present locally for linux/{info.arch}"


def test_text_output_lists_checks_and_fixes(project):
    done = afc("doctor", project=project)
    assert done.returncode == 0
    assert "project-files" in done.stdout and "images" in done.stdout
    if not engine.Probe().details.start_interval:  # this machine's engine 20.10: a warning with its fix
        assert "WARN engine-version" in done.stdout and "fix: upgrade to Docker Engine 25" in done.stdout
    assert "ready:" in done.stderr


def test_outside_a_project_only_machine_checks(tmp_path):
    done = afc("doctor", "--json", project=tmp_path)
    document = report(done)
    assert done.returncode == 0
    assert document["inside_project"] is False and document["project"] is None
    assert [c["name"] for c in document["checks"]] == list(doctor.MACHINE_CHECKS)
    text = afc("doctor", project=tmp_path)
    assert "outside a project" in text.stderr and "ports" not in text.stdout


def test_a_port_held_by_another_program_fails(tmp_path):
    folder = make_project(tmp_path, "doc-busy", 18511)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 18511))
        holder.listen()
        done = afc("doctor", "--json", project=folder)
        found = checks(report(done))
        assert done.returncode == 4
        assert found["ports"]["status"] == "fail"
        # the holder is this test's own process, which afc can always name from /proc
        assert found["ports"]["finding"].startswith(
            f"port 18511 on 127.0.0.1 is already in use by process {os.getpid()} ("
        ), found["ports"]["finding"]
        assert "AFC_PORT" in found["ports"]["fix"]
        # the subset `afc up` uses stops on it too
        from airflow_compose.commands.context import Context

        ctx = Context.load(folder)
        assert [r.name for r in doctor.blocking_failures(ctx)] == ["ports"]
        with pytest.raises(EnvironmentProblem) as raised:
            doctor.ensure_startable(ctx)
        assert "18511" in raised.value.message and raised.value.exit_code == 4
    doctor.ensure_startable(Context.load(folder))  # released: nothing blocks


def test_docker_host_pointing_nowhere(project):
    done = afc("doctor", "--json", project=project, env={"DOCKER_HOST": "unix:///nonexistent.sock"})
    found = checks(report(done))
    assert done.returncode == 4
    assert found["engine"]["status"] == "fail"
    assert "not running or not reachable" in found["engine"]["finding"]
    assert "unix:///nonexistent.sock" in found["engine"]["finding"]
    assert "systemctl start docker" in found["engine"]["fix"]
    for name in ("engine-version", "memory", "cpus", "disk", "arch", "images"):
        assert found[name]["status"] == "skip", found[name]
    assert found["project-files"]["status"] == "ok" and found["ports"]["status"] == "ok"
    text = afc("doctor", project=project, env={"DOCKER_HOST": "unix:///nonexistent.sock"})
    assert text.returncode == 4 and "FAIL engine" in text.stdout and "doctor found problems" in text.stderr
    assert "Traceback" not in text.stderr


def test_permission_denied_on_the_socket(tmp_path):
    """A socket file of mode 000; as root we drop CAP_DAC_OVERRIDE so the CLI really gets EACCES."""
    path = tmp_path / "docker.sock"
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(path))
        listener.listen()
        path.chmod(0)
        command = [sys.executable, "-m", "airflow_compose", "--project-dir", str(tmp_path), "doctor", "--json"]
        if os.geteuid() == 0:
            drop = "-dac_override,-dac_read_search"
            command = [shutil.which("setpriv"), "--bounding-set", drop, "--inh-caps", drop] + command
        environ = {k: v for k, v in os.environ.items() if not k.startswith("AFC_")}
        environ.update(DOCKER_HOST=f"unix://{path}", NO_COLOR="1")
        done = subprocess.run(command, capture_output=True, text=True, env=environ, timeout=120)
    found = checks(report(done))
    assert done.returncode == 4
    assert found["engine"]["status"] == "fail"
    assert "permission denied on the Docker socket" in found["engine"]["finding"], found["engine"]
    assert "usermod -aG docker" in found["engine"]["fix"]


def test_compose_plugin_hidden(project, tmp_path):
    for folder in PLUGIN_DIRS:  # the test relies on the plugin living only in ~/.docker/cli-plugins here
        assert not (Path(folder) / "docker-compose").exists(), f"{folder} has a compose plugin: cannot hide it"
    empty = tmp_path / "docker-config"
    empty.mkdir()
    done = afc("doctor", "--json", project=project, env={"DOCKER_CONFIG": str(empty)})
    found = checks(report(done))
    assert done.returncode == 4
    assert found["compose"]["status"] == "fail"
    standalone = engine.standalone_compose()
    if standalone and standalone[1].startswith("1."):
        assert "only the old Compose v1" in found["compose"]["finding"]
    else:
        assert "docker compose" in found["compose"]["finding"]
    assert "cli-plugins" in found["compose"]["fix"]
    assert found["engine"]["status"] == "ok"
    assert "not validated" in found["project-files"]["finding"]


def test_an_architecture_the_engine_cannot_run(tmp_path):
    native = engine.Probe().details.arch
    other = "arm64" if native == "amd64" else "amd64"
    folder = make_project(tmp_path, "doc-arch", 18512, "--arch", other)
    done = afc("doctor", "--json", project=folder)
    found = checks(report(done))
    available, how = doctor.emulation_available(other, engine.Probe().details)
    if available is False:  # this machine: binfmt_misc has no qemu handler
        assert done.returncode == 4 and found["arch"]["status"] == "fail"
        assert "tonistiigi/binfmt" in found["arch"]["fix"]
    else:
        assert found["arch"]["status"] == "warn"
    assert how in found["arch"]["finding"]
    assert found["images"]["status"] == "warn" and f"linux/{other}" in found["images"]["finding"]


def test_a_missing_built_image_stops_up_with_the_rebuild_command(tmp_path):
    folder = make_project(tmp_path, "doc-built", 18514)
    env = folder / ".env"
    env.write_text(env.read_text().replace("AIRFLOW_IMAGE_NAME=afc-standin/airflow:2.10.4-python3.11",
                                           "AIRFLOW_IMAGE_NAME=doc-built-airflow:000000000000")
                   .replace("AFC_BASE_IMAGE=", "AFC_BASE_IMAGE=afc-standin/airflow:2.10.4-python3.11"))
    found = checks(report(afc("doctor", "--json", project=folder)))
    assert found["images"]["status"] == "fail" and "afc build" in found["images"]["fix"]
    up = afc("up", project=folder)
    assert up.returncode == 4, up.stderr
    assert "doc-built-airflow:000000000000" in up.stderr and "afc build" in up.stderr
    assert "pull access denied" not in up.stderr and "Traceback" not in up.stderr
    started = subprocess.run(["docker", "ps", "-aq", "--filter", "label=com.docker.compose.project=doc-built"],
                             capture_output=True, text=True).stdout.split()
    assert not started, "nothing was created"


def test_bad_project_settings_are_reported_not_raised(tmp_path):
    folder = make_project(tmp_path, "doc-uid", 18513)
    env = folder / ".env"
    lines = [line for line in env.read_text().splitlines() if not line.startswith("AIRFLOW_UID=")]
    env.write_text("\n".join(lines + ["AIRFLOW_UID=0"]) + "\n")
    done = afc("doctor", "--json", project=folder)
    found = checks(report(done))
    assert done.returncode == 4 and "Traceback" not in done.stderr
    assert found["airflow-uid"]["status"] == "fail" and "root" in found["airflow-uid"]["finding"]
    assert found["project-files"]["status"] == "fail" and "AIRFLOW_UID" in found["project-files"]["finding"]
    assert found["ports"]["status"] == "skip"


def test_no_docker_cli_on_path(project):
    done = afc("doctor", "--json", project=project, env={"PATH": "/nonexistent"})
    found = checks(report(done))
    assert done.returncode == 4 and "Traceback" not in done.stderr
    assert found["docker-cli"]["status"] == "fail" and "get-docker" in found["docker-cli"]["fix"]
    assert all(found[name]["status"] == "skip" for name in ("engine", "compose", "memory", "arch", "images"))
    assert found["project-files"]["status"] == "ok" and found["airflow-uid"]["status"] == "ok"
