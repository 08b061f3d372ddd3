"""`afc doctor`'s pure decisions: thresholds, compose/engine verdicts, arch and emulation, ports, AIRFLOW_UID,
project files, images, the report's JSON shape and docs/troubleshooting.md."""
import json
import os
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest

from airflow_compose import engine
from airflow_compose.commands import doctor
from airflow_compose.commands.doctor import FAIL, GIB, OK, SKIP, WARN, Result
from airflow_compose.errors import ENVIRONMENT
from airflow_compose.stack.spec import PublishedPort

ROOT = Path(__file__).resolve().parents[2]


def details(**overrides):
    values = dict(client_version="28.2.2", server_version="27.3.1", api_version="1.47", arch="amd64",
                  os_type="linux", operating_system="Debian GNU/Linux 12 (bookworm)", mem_total=8 * GIB, ncpu=4,
                  docker_root_dir="/", endpoint="unix:///var/run/docker.sock")
    values.update(overrides)
    return engine.EngineDetails(**values)


# --- thresholds -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("mem, status", [(0, WARN), (2 * GIB, WARN), (3999 * 1024 ** 2, WARN),
                                         (4000 * 1024 ** 2, OK), (24 * GIB, OK)])
def test_memory_threshold_is_4000_mib(mem, status):
    result = doctor.check_memory(mem)
    assert result.status == status
    if status == WARN and mem:
        assert "137" in result.finding and "Resources" in result.fix


@pytest.mark.parametrize("cpus, status", [(1, WARN), (2, OK), (16, OK)])
def test_cpu_threshold(cpus, status):
    assert doctor.check_cpus(cpus).status == status


@pytest.mark.parametrize("free, status", [(None, WARN), (9 * GIB, WARN), (10 * GIB - 1, WARN), (10 * GIB, OK)])
def test_disk_threshold_names_the_measured_path(free, status):
    result = doctor.check_disk(free, "/var/lib/docker", "Docker's data folder")
    assert result.status == status and "/var/lib/docker" in result.finding
    if free is not None and status == WARN:
        assert "docker system prune" in result.fix


@pytest.mark.parametrize("api, status", [("1.41", WARN), ("1.43", WARN), ("1.44", OK), ("1.47", OK), ("2.0", OK)])
def test_engine_version_start_interval_needs_api_1_44(api, status):
    result = doctor.check_engine_version("x", api)
    assert result.status == status
    if status == WARN:
        assert "start_interval" in result.finding and "Docker Engine 25" in result.fix


# --- CLI, engine, compose -------------------------------------------------------------------------------

def test_missing_cli_fails_and_dependent_checks_skip():
    assert doctor.check_cli(None).status == FAIL
    assert doctor.check_cli("/usr/bin/docker", "28.2.2").finding == "docker CLI 28.2.2 at /usr/bin/docker"
    assert doctor.check_engine(False, None, None, "").status == SKIP
    assert doctor.check_compose(False, "", None).status == SKIP


def test_engine_permission_denied_is_told_apart_from_not_running():
    denied = engine.classify("reach the Docker engine", "permission denied while trying to connect to the Docker "
                             "daemon socket at unix:///var/run/docker.sock: Get \"http://%2Fvar%2Frun%2Fdocker.sock"
                             "/v1.50/version\": dial unix /var/run/docker.sock: connect: permission denied")
    down = engine.classify("reach the Docker engine", "Cannot connect to the Docker daemon at unix:///x.sock. "
                           "Is the docker daemon running?")
    denied_result = doctor.check_engine(True, None, denied, "unix:///var/run/docker.sock")
    down_result = doctor.check_engine(True, None, down, "unix:///x.sock")
    assert denied_result.status == down_result.status == FAIL
    assert "permission denied on the Docker socket" in denied_result.finding and "usermod" in denied_result.fix
    assert "not running or not reachable" in down_result.finding and "unix:///x.sock" in down_result.finding
    assert "systemctl start docker" in down_result.fix


def test_engine_ok_names_version_and_endpoint():
    result = doctor.check_engine(True, details(), None, "unix:///var/run/docker.sock")
    assert result.status == OK and "27.3.1" in result.finding and "unix:///var/run/docker.sock" in result.finding


def test_compose_verdicts():
    assert doctor.check_compose(True, "5.6.1", None).status == OK
    v1 = doctor.check_compose(True, "", ("/usr/bin/docker-compose", "1.29.2"))
    assert v1.status == FAIL and "v1" in v1.finding and "1.29.2" in v1.finding
    assert "docker-compose-plugin" in v1.fix and "cli-plugins" in v1.fix
    standalone_v2 = doctor.check_compose(True, "", ("/usr/local/bin/docker-compose", "2.29.1"))
    assert standalone_v2.status == FAIL and "ln -s /usr/local/bin/docker-compose" in standalone_v2.fix
    nothing = doctor.check_compose(True, "", None)
    assert nothing.status == FAIL and "not installed" in nothing.finding


# --- arch and emulation ---------------------------------------------------------------------------------

def test_arch_native_emulated_unknown_and_impossible():
    assert doctor.check_arch("amd64", "amd64", None, "").status == OK
    emulated = doctor.check_arch("amd64", "arm64", True, "qemu-x86_64 is registered")
    assert emulated.status == WARN and "emulation" in emulated.finding and "AFC_ARCH=auto" in emulated.fix
    unknown = doctor.check_arch("arm64", "amd64", None, "remote engine")
    assert unknown.status == WARN and "cannot tell" in unknown.finding
    impossible = doctor.check_arch("arm64", "amd64", False, "no qemu-aarch64 handler")
    assert impossible.status == FAIL and "tonistiigi/binfmt --install arm64" in impossible.fix
    assert "--arch amd64" in impossible.fix


def _binfmt(tmp_path: Path, status: str | None, entries: dict[str, str]) -> Path:
    root = tmp_path / "binfmt_misc"
    root.mkdir()
    if status is not None:
        (root / "status").write_text(status + "\n")
        (root / "register").write_text("")
    for name, text in entries.items():
        (root / name).write_text(text)
    return root


QEMU_ARM = "enabled\ninterpreter /usr/bin/qemu-aarch64-static\nflags: OCF\noffset 0\nmagic 7f454c46\n"


def test_binfmt_not_mounted_means_no_emulator(tmp_path):
    available, how = doctor.binfmt_emulation("arm64", _binfmt(tmp_path, None, {}))
    assert available is False and "not mounted" in how


def test_binfmt_registered_handler_by_name_and_by_interpreter(tmp_path):
    root = _binfmt(tmp_path, "enabled", {"qemu-aarch64": QEMU_ARM})
    assert doctor.binfmt_emulation("arm64", root) == (True, f"qemu-aarch64 is registered in {root}")
    assert doctor.binfmt_emulation("amd64", root)[0] is False
    (tmp_path / "x").mkdir()
    other_name = _binfmt(tmp_path / "x", "enabled", {"aarch64-user": QEMU_ARM})
    assert doctor.binfmt_emulation("arm64", other_name)[0] is True


def test_binfmt_disabled_handler_or_subsystem(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    off_entry = _binfmt(tmp_path / "a", "enabled", {"qemu-aarch64": QEMU_ARM.replace("enabled", "disabled", 1)})
    assert doctor.binfmt_emulation("arm64", off_entry)[0] is False
    off_all = _binfmt(tmp_path / "b", "disabled", {"qemu-aarch64": QEMU_ARM})
    available, how = doctor.binfmt_emulation("arm64", off_all)
    assert available is False and "disabled" in how


def test_rosetta_counts_for_amd64(tmp_path):
    root = _binfmt(tmp_path, "enabled", {"rosetta": "enabled\ninterpreter /mnt/lima-rosetta/rosetta\n"})
    assert doctor.binfmt_emulation("amd64", root)[0] is True


def test_emulation_known_only_for_a_local_linux_engine(tmp_path):
    root = _binfmt(tmp_path, "enabled", {"qemu-aarch64": QEMU_ARM})
    assert doctor.emulation_available("arm64", details(), "Linux", root)[0] is True
    assert doctor.emulation_available("arm64", details(operating_system="Docker Desktop"), "Darwin", root)[0] is True
    remote = doctor.emulation_available("arm64", details(endpoint="ssh://build-box"), "Linux", root)
    assert remote[0] is None and "ssh://build-box" in remote[1]
    assert doctor.emulation_available("arm64", details(), "Darwin", root)[0] is None


def test_engine_is_local():
    assert doctor.engine_is_local(details())
    assert not doctor.engine_is_local(details(endpoint="tcp://10.0.0.2:2376"))
    assert not doctor.engine_is_local(details(operating_system="Docker Desktop"))
    assert not doctor.engine_is_local(details(docker_root_dir="/no/such/dir"))


# --- ports ----------------------------------------------------------------------------------------------

def test_ports_free_busy_and_held_by_this_stack():
    ports = [PublishedPort("webserver", 18500, 8080, "AFC_PORT", "web UI"),
             PublishedPort("flower", 18501, 5555, "AFC_FLOWER_PORT", "Flower")]
    assert doctor.check_ports(ports, "127.0.0.1", set(), lambda h, p: True).status == OK
    busy = doctor.check_ports(ports, "127.0.0.1", set(), lambda h, p: p != 18500)
    assert busy.status == FAIL
    assert busy.finding == "port 18500 on 127.0.0.1 is already in use by another program"
    assert "AFC_PORT" in busy.fix and "afc up --port auto" in busy.fix
    named = doctor.check_ports(ports, "127.0.0.1", set(), lambda h, p: p != 18500, lambda p: f"process 7 (nc -l {p})")
    assert named.finding == "port 18500 on 127.0.0.1 is already in use by process 7 (nc -l 18500)"
    held = doctor.check_ports(ports, "127.0.0.1", {18500}, lambda h, p: p != 18500)
    assert held.status == OK and "held by this stack" in held.finding
    both = doctor.check_ports(ports, "127.0.0.1", set(), lambda h, p: False)
    assert both.status == FAIL and "18500, 18501" in both.finding


def test_held_ports_parse_docker_bindings():
    containers = [SimpleNamespace(ports=("127.0.0.1:18500->8080/tcp", "0.0.0.0:5555->5555/tcp")),
                  SimpleNamespace(ports=("[::]:18502->5432/tcp", "bogus"))]
    assert doctor.held_ports(containers) == {18500, 5555, 18502}


# --- AIRFLOW_UID ----------------------------------------------------------------------------------------

def _stat(uid: int, gid: int, mode: int) -> os.stat_result:
    return os.stat_result((stat.S_IFDIR | mode, 0, 0, 2, uid, gid, 4096, 0, 0, 0))


def test_uid_zero_fails():
    result = doctor.check_uid("0", 0, None, "", True, 1000)
    assert result.status == FAIL and "root" in result.finding and "id -u" in result.fix


@pytest.mark.parametrize("owner, gid, mode, status", [
    (1000, 1000, 0o755, OK),     # the uid owns logs/
    (0, 0, 0o775, OK),           # group 0 can write (what afc init makes)
    (0, 0, 0o755, FAIL),         # root-owned, not group-writable
    (4242, 4242, 0o777, OK),     # world-writable
    (4242, 4242, 0o755, FAIL),
])
def test_uid_against_logs_ownership(owner, gid, mode, status):
    result = doctor.check_uid("1000", 1000, _stat(owner, gid, mode), "/p/logs", True, 1000)
    assert result.status == status
    if status == FAIL:
        assert "sudo chown -R 1000:0 /p/logs" in result.fix and "permission denied" in result.finding


def test_uid_not_mine_warns_missing_logs_warns_and_desktop_is_fine():
    mismatch = doctor.check_uid("50000", 50000, _stat(50000, 0, 0o775), "/p/logs", True, 1000)
    assert mismatch.status == WARN and "AIRFLOW_UID=1000" in mismatch.fix
    assert doctor.check_uid("", 50000, _stat(0, 0, 0o775), "/p/logs", True, 0).status == OK  # root: 50000 default
    missing = doctor.check_uid("", 1000, None, "/p/logs", True, 1000)
    assert missing.status == WARN and "mkdir" in missing.fix
    assert doctor.check_uid("", 1000, _stat(0, 0, 0o700), "/p/logs", False, 501).status == OK


# --- project files (the real `afc config --check` logic, without compose validation) ----------------------

@pytest.fixture
def project(tmp_path):
    from airflow_compose.commands import initialize
    from airflow_compose.project.files import Project
    from airflow_compose.stack.spec import EngineFacts

    proj = Project(tmp_path / "proj", environ={})
    initialize.init_project(proj, {"AFC_ARCH": "amd64"}, False, EngineFacts("amd64", False))
    return proj


def _files_check(project):
    from airflow_compose.commands import initialize
    from airflow_compose.stack.spec import EngineFacts

    return doctor.check_project_files(initialize.check_project(project, EngineFacts("amd64", False), None).problems)


def test_project_files_current_stale_and_broken(project):
    assert _files_check(project).status == OK
    project.compose_path.write_text(project.compose_path.read_text() + "# edited\n")
    stale = _files_check(project)
    assert stale.status == WARN and "not what .env describes" in stale.finding and "afc up" in stale.fix
    (project.root / "dags").rmdir()
    broken = _files_check(project)
    assert broken.status == FAIL and "dags/" in broken.finding and "+1 more" in broken.finding
    text = project.env_path.read_text().replace("AFC_JWT_SECRET=", "# AFC_JWT_SECRET=")
    project.env_path.write_text(text)
    missing = _files_check(project)
    assert missing.status == FAIL and "AFC_JWT_SECRET" in missing.finding and "init --force" in missing.fix


# --- images -----------------------------------------------------------------------------------------------

def test_images_present_missing_and_other_arch():
    assert doctor.check_images("amd64", {"a:1": "amd64", "b:2": "amd64"}).status == OK
    missing = doctor.check_images("amd64", {"a:1": "amd64", "postgres:16": None})
    assert missing.status == WARN and missing.finding == "not present locally: postgres:16"
    assert "`docker pull postgres:16`" in missing.fix and "pulled on `afc up`" in missing.fix
    gone = doctor.check_images("amd64", {"p-airflow:0123": None, "postgres:16": "amd64"}, built="p-airflow:0123")
    assert gone.status == doctor.FAIL and "afc build" in gone.fix and "p-airflow:0123" in gone.finding
    other = doctor.check_images("arm64", {"a:1": "amd64"})
    assert other.status == WARN and "a:1 (amd64)" in other.finding and "--platform linux/arm64" in other.fix


# --- report ---------------------------------------------------------------------------------------------

def test_report_json_shape_and_exit_codes():
    warn_only = doctor.Report((Result("memory", WARN, "low", "more"), Result("cpus", OK, "2 CPUs")), None, "/tmp")
    assert warn_only.exit_code == 0 and not warn_only.inside_project
    document = json.loads(json.dumps(warn_only.as_dict()))
    assert set(document) == {"ok", "exit_code", "inside_project", "project", "location", "summary", "checks"}
    assert document["summary"] == {"ok": 1, "warn": 1, "fail": 0, "skip": 0}
    assert document["checks"][0] == {"name": "memory", "title": "Memory available to Docker", "status": "warn",
                                     "finding": "low", "fix": "more"}
    failing = doctor.Report((Result("engine", FAIL, "down", "start it"), Result("disk", SKIP, "n/a")), "/p", "/p")
    assert failing.exit_code == ENVIRONMENT == 4 and failing.as_dict()["ok"] is False and failing.inside_project


def test_machine_checks_skip_what_needs_the_engine():
    machine = doctor.Machine(cli="/usr/bin/docker", details=None, error=None, endpoint="unix:///x.sock",
                             compose="5.6.1", standalone=None)
    results = doctor.machine_checks(machine, None)
    assert [r.name for r in results] == list(doctor.MACHINE_CHECKS)
    assert [r.status for r in results] == [OK, FAIL, OK, SKIP, SKIP, SKIP, SKIP]


def test_catalogue_covers_every_check_in_order():
    names = [doc.name for doc in doctor.CATALOGUE]
    assert names == list(doctor.MACHINE_CHECKS + doctor.PROJECT_CHECKS)
    assert set(doctor.example_results()) == set(names)
    assert set(doctor.BLOCKING) <= set(names)


# --- docs/troubleshooting.md ----------------------------------------------------------------------------

def test_troubleshooting_names_every_check_and_is_current():
    text = (ROOT / "docs" / "troubleshooting.md").read_text()
    for doc in doctor.CATALOGUE:
        assert f"`{doc.name}`" in text, f"docs/troubleshooting.md does not mention the check {doc.name}"
    assert doctor.troubleshooting_markdown() in text, (
        "docs/troubleshooting.md is out of date: paste the output of `python -m airflow_compose.commands.doctor` into it")


def test_troubleshooting_covers_the_recurring_problems():
    text = (ROOT / "docs" / "troubleshooting.md").read_text()
    for needle in ("root", "137", "Apple Silicon", "JWT", "already in use", "_PIP_ADDITIONAL_REQUIREMENTS",
                   "afc logs init", "--volumes"):
        assert needle in text, needle
