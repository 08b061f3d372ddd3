"""`afc doctor`: pre-flight checks of the machine (and of the project, when run inside one).

Every check returns a `Result` (status ok / warn / fail / skip, a one-line finding, a concrete fix) and never
prints; `ui.show_doctor` renders the `Report` as text or JSON. The decisions are pure functions of facts
(versions, byte counts, stat results, /proc entries) so they are unit-tested without Docker; `diagnose`
gathers the facts from the real engine. `ensure_startable` is the subset that can stop `afc up`.

`python -m airflow_compose.commands.doctor` prints the generated part of docs/troubleshooting.md.
"""
from __future__ import annotations

import os
import platform
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

from ..errors import ENVIRONMENT
from ..errors import OK as EXIT_OK
from ..errors import AfcError, EnvironmentProblem

if TYPE_CHECKING:
    from ..engine import ContainerState, EngineDetails
    from ..project.files import Project
    from ..stack.spec import PublishedPort, StackSpec
    from .context import Context

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"

GIB = 1024 ** 3
MIN_MEMORY_MIB = 4000          # the official stack's airflow-init warns below 4000 MB
MIN_CPUS = 2
MIN_DISK = 10 * GIB
BINFMT = Path("/proc/sys/fs/binfmt_misc")
# binfmt_misc handler names that run another architecture's binaries (tonistiigi/binfmt, qemu-user-static,
# Debian's qemu-user-binfmt, Rosetta in Docker Desktop's Linux VM).
EMULATORS = {"amd64": ("qemu-x86_64", "rosetta"), "arm64": ("qemu-aarch64",)}
QEMU_ARCH = {"amd64": "x86_64", "arm64": "aarch64"}


@dataclass(frozen=True)
class CheckDoc:
    """What a check is about, for the report and for docs/troubleshooting.md."""

    name: str
    title: str
    symptom: str
    fix: str


# The checks in the order they run. Their names are stable: they are the keys of `afc doctor --json`.
CATALOGUE: tuple[CheckDoc, ...] = (
    CheckDoc("docker-cli", "Docker CLI",
             "`afc` says \"the docker command is not installed (or not on PATH)\".",
             "Install Docker Engine (Linux) or Docker Desktop (macOS, Windows): https://docs.docker.com/get-docker/ "
             "and make sure `docker` is on PATH."),
    CheckDoc("engine", "Docker engine reachable",
             "Every command fails with \"the Docker engine is not running or not reachable\" or \"permission "
             "denied on the Docker socket\".",
             "Not running: start it (`sudo systemctl start docker`, or open Docker Desktop); check `DOCKER_HOST` "
             "and `docker context ls`. Permission denied: `sudo usermod -aG docker $USER`, log out and in "
             "again (or use rootless Docker)."),
    CheckDoc("compose", "Docker Compose v2 plugin",
             "\"the Docker Compose v2 plugin (`docker compose`) is not installed\"; only the old `docker-compose` "
             "(v1) is there.",
             "Install the `docker-compose-plugin` package, or put the compose v2 binary in "
             "`~/.docker/cli-plugins/docker-compose` (`chmod +x`). A standalone v2 `docker-compose` can be "
             "linked there. v1 (`docker-compose` 1.x) cannot run afc's stacks."),
    CheckDoc("engine-version", "Engine version and API",
             "`docker compose ps` and `afc ls` say `starting` for up to 30 s after `afc up` said healthy.",
             "On Docker Engine older than 25 (API < 1.44) health checks have no `start_interval`: Docker's first "
             "check of a container comes 30 s after its start. afc then waits on no health check (dependencies "
             "wait for a start, init waits for Postgres itself) and `afc up` / `afc status` run a starting "
             "container's own check themselves, so the stack starts as fast; only Docker's own status lags. "
             "Upgrade to Docker Engine 25 or newer for fast first checks in Docker's status too."),
    CheckDoc("memory", "Memory available to Docker",
             "Containers stay `unhealthy`, restart in a loop, or exit with code 137 (killed: out of memory).",
             "Give Docker at least 4 GB (Docker Desktop: Settings → Resources → Memory), or run fewer/lighter "
             "services: `--executor local`, fewer workers, a lower `AFC_WORKER_CONCURRENCY`."),
    CheckDoc("cpus", "CPUs available to Docker",
             "Start-up is very slow and health checks time out.",
             "Give Docker at least 2 CPUs (Docker Desktop: Settings → Resources), or raise `afc up --timeout 600`."),
    CheckDoc("disk", "Free disk space",
             "Image pulls fail with \"no space left on device\", or Postgres stops writing.",
             "Free at least 10 GB where Docker keeps its data: `docker system df`, then `docker system prune` "
             "(removes unused images and stopped containers, not your volumes)."),
    CheckDoc("ports", "Project ports",
             "`afc up` says \"port 8080 on 127.0.0.1 is already in use by afc stack 'other' (/home/me/other)\" "
             "(or by a process, or \"another program\" when afc cannot tell).",
             "Stop what holds the port (`afc -C FOLDER down` for another stack; `ss -ltnp | grep :8080` or `lsof -i "
             ":8080` shows a process), or choose another port: `afc up --port auto` picks a free one and keeps it "
             "in `.env` (or set `AFC_PORT` there yourself). `afc ls` lists every afc stack with its URL."),
    CheckDoc("arch", "Image architecture vs engine",
             "On Apple Silicon (or any arm64 machine) with amd64 images, or the reverse: very slow start, "
             "crashes with \"exec format error\".",
             "Use the engine's own architecture: `AFC_ARCH=auto` (apache/airflow images are multi-platform). If "
             "you need the other one, register an emulator: `docker run --privileged --rm tonistiigi/binfmt "
             "--install arm64` (or amd64); Docker Desktop has it built in (enable Rosetta for amd64)."),
    CheckDoc("airflow-uid", "AIRFLOW_UID and logs/ ownership",
             "\"Permission denied\" on `/opt/airflow/logs`, or files in `logs/` and `dags/` owned by root.",
             "Set `AIRFLOW_UID` in `.env` to your uid (`id -u`), never 0, and give the folder back: "
             "`sudo chown -R $(id -u):0 logs dags plugins config`, `chmod -R g+w logs`."),
    CheckDoc("project-files", "Project files",
             "`afc up` or `afc config --check` complains about `.env` or `compose.yaml`.",
             "Run `afc config --check` for the full list; `afc init --force` re-renders the project and adds "
             "missing secrets while keeping the existing ones, DAGs, logs and data; `afc up` re-renders "
             "`compose.yaml` from `.env` (put hand edits in `compose.override.yaml`)."),
    CheckDoc("images", "Images present locally",
             "`afc up` spends minutes pulling, or fails with \"pull access denied\" / a registry error.",
             "`docker pull IMAGE` for each image doctor names (or let `afc up` pull them). Behind a mirror or "
             "without a registry, set `AIRFLOW_IMAGE_NAME`, `AFC_POSTGRES_IMAGE` and `AFC_REDIS_IMAGE` to images "
             "you have (`docker images`)."),
)
TITLES = {doc.name: doc.title for doc in CATALOGUE}
MACHINE_CHECKS = ("docker-cli", "engine", "compose", "engine-version", "memory", "cpus", "disk")
PROJECT_CHECKS = ("ports", "arch", "airflow-uid", "project-files", "images")
BLOCKING = ("docker-cli", "engine", "compose", "ports", "arch")


@dataclass(frozen=True)
class Result:
    name: str
    status: str
    finding: str
    fix: str = ""

    @property
    def title(self) -> str:
        return TITLES.get(self.name, self.name)

    def as_dict(self) -> dict:
        return {"name": self.name, "title": self.title, "status": self.status, "finding": self.finding,
                "fix": self.fix}


@dataclass(frozen=True)
class Report:
    results: tuple[Result, ...]
    project: str | None          # the project's folder, None outside a project
    location: str                # the folder doctor was run for

    @property
    def inside_project(self) -> bool:
        return self.project is not None

    @property
    def failed(self) -> bool:
        return any(r.status == FAIL for r in self.results)

    @property
    def exit_code(self) -> int:
        return ENVIRONMENT if self.failed else EXIT_OK

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    def as_dict(self) -> dict:
        return {"ok": not self.failed, "exit_code": self.exit_code, "inside_project": self.inside_project,
                "project": self.project, "location": self.location,
                "summary": {s: self.count(s) for s in (OK, WARN, FAIL, SKIP)},
                "checks": [r.as_dict() for r in self.results]}


# --- pure decisions --------------------------------------------------------------------------------------

def check_cli(path: str | None, client_version: str = "") -> Result:
    if not path:
        return Result("docker-cli", FAIL, "the docker command is not installed (or not on PATH)",
                      "install Docker Engine or Docker Desktop: https://docs.docker.com/get-docker/")
    version = f" {client_version}" if client_version else ""
    return Result("docker-cli", OK, f"docker CLI{version} at {path}")


def check_engine(cli: bool, details: "EngineDetails | None", error: AfcError | None, endpoint: str) -> Result:
    where = f" at {endpoint}" if endpoint else ""
    if not cli:
        return Result("engine", SKIP, "not checked: no docker CLI", "install Docker first")
    if details is not None:
        return Result("engine", OK, f"Docker Engine {details.server_version} answers{where} "
                                    f"({details.operating_system or details.os_type}, {details.arch})")
    message = error.message if error else "the Docker engine did not answer"
    hint = error.hint if error else "start Docker and check DOCKER_HOST"
    return Result("engine", FAIL, f"{message}{where}", hint)


def check_compose(cli: bool, version: str, standalone: tuple[str, str] | None) -> Result:
    if not cli:
        return Result("compose", SKIP, "not checked: no docker CLI", "install Docker first")
    if version:
        return Result("compose", OK, f"Docker Compose {version} (`docker compose` plugin)")
    fix = ("install the docker-compose-plugin package, or put the compose v2 binary in "
           "~/.docker/cli-plugins/docker-compose")
    if standalone is None:
        return Result("compose", FAIL, "the Docker Compose v2 plugin (`docker compose`) is not installed", fix)
    path, found = standalone
    if found.startswith("1."):
        return Result("compose", FAIL, f"only the old Compose v1 is installed ({path}, version {found}); afc needs "
                                       f"the v2 plugin (`docker compose`)", fix + " (v1 cannot be used)")
    version = found or "(version unknown)"
    return Result("compose", FAIL, f"`docker compose` is missing; a standalone docker-compose {version} is at "
                                   f"{path} but the docker CLI does not use it",
                  f"mkdir -p ~/.docker/cli-plugins && ln -s {path} ~/.docker/cli-plugins/docker-compose "
                  f"(if it is v2), or {fix}")


def check_engine_version(server_version: str, api_version: str) -> Result:
    from ..engine import START_INTERVAL_API, api_tuple

    api = api_tuple(api_version)
    if api >= START_INTERVAL_API:
        return Result("engine-version", OK, f"Docker Engine {server_version} (API {api_version}) supports "
                                            f"health-check start_interval: fast first health checks")
    return Result("engine-version", WARN,
                  f"Docker Engine {server_version} (API {api_version}) lacks health-check start_interval "
                  f"(API 1.44+): afc runs a starting service's check itself; Docker's own status says `starting` "
                  f"until its first check, 30 s after a start",
                  "upgrade to Docker Engine 25 or newer (Docker Desktop 4.27+) for fast first health checks in "
                  "Docker's status; the stack works as it is")


def check_memory(mem_total: int) -> Result:
    mib = mem_total // (1024 * 1024)
    shown = f"{mem_total / GIB:.1f} GiB"
    if mem_total <= 0:
        return Result("memory", WARN, "the engine did not report its memory", "give Docker at least 4 GB")
    if mib < MIN_MEMORY_MIB:
        return Result("memory", WARN, f"only {shown} of memory available to Docker (at least 4 GB recommended): "
                                      f"services may be killed (exit 137) or stay unhealthy",
                      "give Docker more memory (Docker Desktop: Settings → Resources), or use --executor local "
                      "and a lower AFC_WORKER_CONCURRENCY")
    return Result("memory", OK, f"{shown} of memory available to Docker (at least 4 GB recommended)")


def check_cpus(ncpu: int) -> Result:
    if ncpu < MIN_CPUS:
        return Result("cpus", WARN, f"only {ncpu} CPU available to Docker (at least {MIN_CPUS} recommended): "
                                    f"start-up is slow and health checks may time out",
                      "give Docker at least 2 CPUs (Docker Desktop: Settings → Resources), or raise "
                      "`afc up --timeout 600`")
    return Result("cpus", OK, f"{ncpu} CPUs available to Docker")


def check_disk(free: int | None, path: str, what: str) -> Result:
    if free is None:
        return Result("disk", WARN, f"could not measure free space of {path}", "make sure 10 GB are free for images "
                                                                              "and the database")
    shown = f"{free / GIB:.1f} GiB"
    if free < MIN_DISK:
        return Result("disk", WARN, f"only {shown} free on {path} ({what}); at least 10 GB recommended",
                      "free space: `docker system df`, then `docker system prune` (keeps volumes)")
    return Result("disk", OK, f"{shown} free on {path} ({what})")


def held_ports(containers: Iterable["ContainerState"]) -> set[int]:
    """Host ports published by the stack's own containers (`127.0.0.1:8080->8080/tcp`)."""
    held = set()
    for container in containers:
        for binding in container.ports:
            try:
                held.add(int(binding.split("->")[0].rsplit(":", 1)[-1]))
            except ValueError:
                continue
    return held


def check_ports(ports: Sequence["PublishedPort"], host: str, held: set[int],
                is_free: Callable[[str, int], bool], holder: Callable[[int], str] | None = None) -> Result:
    """`holder` names who holds a busy port (another afc stack, a container, a process) when it can tell."""
    busy = [(p.host_port, p.setting) for p in ports if p.host_port not in held and not is_free(host, p.host_port)]
    if busy:
        port, key = busy[0]
        names = ", ".join(str(p) for p, _ in busy)
        flag = " --port" if key == "AFC_PORT" else ""
        who = holder(port) if holder else ""
        return Result("ports", FAIL, f"port {names} on {host} {'is' if len(busy) == 1 else 'are'} already in use "
                                     f"by {who or 'another program'}",
                      f"stop that program, or choose another port: set {key} in .env"
                      + (" (or `afc up --port auto` to pick a free one)" if flag else "")
                      + " and run `afc up` again")
    parts = [f"{p.host_port} ({p.what}{', held by this stack' if p.host_port in held else ''})" for p in ports]
    return Result("ports", OK, f"{host}: " + ", ".join(parts) + (" free" if not held else " available"))


def binfmt_emulation(arch: str, root: Path = BINFMT) -> tuple[bool, str]:
    """Whether this Linux kernel has a binfmt_misc handler that runs `arch` binaries, and how we know."""
    qemu = f"qemu-{QEMU_ARCH.get(arch, arch)}"
    status = root / "status"
    if not status.exists():
        return False, f"binfmt_misc is not mounted ({root}): no emulator is registered"
    try:
        if status.read_text().strip() == "disabled":
            return False, f"binfmt_misc is disabled ({status})"
        entries = sorted(p for p in root.iterdir() if p.name not in ("status", "register"))
    except OSError as error:
        return False, f"cannot read {root}: {error.strerror}"
    for entry in entries:
        try:
            text = entry.read_text()
        except OSError:
            continue
        lines = text.splitlines()
        enabled = bool(lines) and lines[0].strip() == "enabled"
        interpreter = next((line.split(None, 1)[-1] for line in lines if line.startswith("interpreter")), "")
        if enabled and (entry.name in EMULATORS.get(arch, ()) or qemu in interpreter or qemu == entry.name):
            return True, f"{entry.name} is registered in {root}"
    return False, f"no {qemu} handler is registered in {root}"


def engine_is_local(details: "EngineDetails") -> bool:
    """The engine runs on this machine (a unix socket, not Docker Desktop's VM, its root dir visible here)."""
    return (details.endpoint.startswith("unix://") or not details.endpoint) and not details.desktop \
        and bool(details.docker_root_dir) and Path(details.docker_root_dir).exists()


def emulation_available(arch: str, details: "EngineDetails", system: str | None = None,
                        root: Path = BINFMT) -> tuple[bool | None, str]:
    """True/False when known, None when it cannot be told from here; with the reason."""
    if details.desktop:
        return True, "Docker Desktop emulates other architectures (QEMU, or Rosetta when enabled)"
    if (system or platform.system()) != "Linux" or not engine_is_local(details):
        return None, f"the engine at {details.endpoint or '?'} is not on this machine: its emulators cannot be seen"
    return binfmt_emulation(arch, root)


def check_arch(wanted: str, engine_arch: str, emulation: bool | None, how: str) -> Result:
    if wanted == engine_arch:
        return Result("arch", OK, f"linux/{wanted} images run natively on this {engine_arch} engine")
    native = f"set AFC_ARCH=auto (or `afc init --force --arch {engine_arch}`): apache/airflow images are multi-platform"
    if emulation is False:
        return Result("arch", FAIL, f"linux/{wanted} images cannot run on this {engine_arch} engine: {how}",
                      f"{native}; or register an emulator: `docker run --privileged --rm tonistiigi/binfmt "
                      f"--install {wanted}`")
    known = how if emulation else f"cannot tell whether emulation is available: {how}"
    return Result("arch", WARN, f"linux/{wanted} images run under emulation on this {engine_arch} engine "
                                f"(several times slower, may crash); {known}", native)


def check_uid(raw: str, uid: int, logs: os.stat_result | None, logs_path: str, linux: bool,
              my_uid: int | None) -> Result:
    if raw.strip() == "0":
        return Result("airflow-uid", FAIL, "AIRFLOW_UID=0 runs Airflow as root: logs/ and dags/ fill with "
                                           "root-owned files", "set AIRFLOW_UID in .env to your uid (`id -u`)")
    if logs is None:
        return Result("airflow-uid", WARN, f"AIRFLOW_UID={uid}; {logs_path} is missing (compose would create it "
                                           f"owned by root)", f"mkdir -m 775 {logs_path}")
    if not linux:
        return Result("airflow-uid", OK, f"AIRFLOW_UID={uid}; Docker Desktop maps file ownership of bind mounts")
    mode = logs.st_mode & 0o777
    writable = logs.st_uid == uid or (logs.st_gid == 0 and mode & 0o020) or mode & 0o002
    if not writable:
        return Result("airflow-uid", FAIL, f"containers run as uid {uid} (gid 0) but cannot write {logs_path} "
                                           f"(owner {logs.st_uid}:{logs.st_gid}, mode {mode:o}): tasks fail with "
                                           f"permission denied",
                      f"sudo chown -R {uid}:0 {logs_path}, or set AIRFLOW_UID={logs.st_uid} in .env")
    if my_uid not in (None, 0) and uid != my_uid:
        return Result("airflow-uid", WARN, f"AIRFLOW_UID={uid} is not your uid ({my_uid}): files the containers "
                                           f"write in logs/ will not be yours",
                      f"set AIRFLOW_UID={my_uid} in .env (then `sudo chown -R {my_uid}:0 logs`)")
    how = "owns" if logs.st_uid == uid else "can write (through group 0)" if logs.st_gid == 0 and mode & 0o020 \
        else "can write"
    return Result("airflow-uid", OK, f"AIRFLOW_UID={uid} (gid 0) {how} {logs_path} (owner {logs.st_uid}:{logs.st_gid}, "
                                     f"mode {mode:o})")


# problems of `afc config --check` that `afc up` repairs or that do not stop the stack
_MINOR = ("is not what .env describes", "is readable by others")


def check_project_files(problems: Iterable) -> Result:
    problems = list(problems)
    if not problems:
        return Result("project-files", OK, ".env is complete and compose.yaml is current and valid")
    serious = [p for p in problems if not any(m in p.what for m in _MINOR)]
    first = (serious or problems)[0]
    more = f" (+{len(problems) - 1} more: `afc config --check`)" if len(problems) > 1 else ""
    return Result("project-files", FAIL if serious else WARN, first.what + more, first.fix)


def check_images(wanted_arch: str, arches: dict[str, str | None], built: str = "") -> Result:
    """`built`: the project's image made by `afc build`, which no registry holds."""
    missing = [name for name, arch in arches.items() if arch is None]
    other = [f"{name} ({arch})" for name, arch in arches.items() if arch and arch != wanted_arch]
    if built in missing:
        return Result("images", FAIL, f"the project's image {built} (made by `afc build`) is not on this engine, "
                                      f"and no registry has it",
                      "run `afc build` to build it again (the same inputs give the same tag)")
    if missing:
        pulls = "; ".join(f"`docker pull {name}`" for name in missing)
        return Result("images", WARN, f"not present locally: {', '.join(missing)}",
                      f"{pulls}, or it will be pulled on `afc up`")
    if other:
        return Result("images", WARN, f"present locally but not for linux/{wanted_arch}: {', '.join(other)}",
                      f"`docker pull --platform linux/{wanted_arch} IMAGE`, or set AFC_ARCH to the image's arch")
    return Result("images", OK, f"all {len(arches)} images present locally for linux/{wanted_arch}")


def skipped(name: str, why: str, fix: str = "") -> Result:
    return Result(name, SKIP, f"not checked: {why}", fix)


# --- gathering facts ----------------------------------------------------------------------------------------

@dataclass
class Machine:
    """Facts about the docker CLI, engine and compose plugin, gathered once."""

    cli: str | None
    details: "EngineDetails | None"
    error: AfcError | None
    endpoint: str
    compose: str
    standalone: tuple[str, str] | None

    @classmethod
    def probe(cls) -> "Machine":
        from .. import engine

        engine_probe = engine.Probe()
        cli = shutil.which("docker")
        details, error = None, None
        if cli:
            try:
                details = engine_probe.details
            except AfcError as problem:
                error = problem
        endpoint = details.endpoint if details else (engine_probe.endpoint if cli else "")
        compose = engine_probe.compose_version if cli else ""
        standalone = engine.standalone_compose() if cli and not compose else None
        return cls(cli, details, error, endpoint, compose, standalone)

    def facts(self):
        from ..stack.spec import EngineFacts, host_facts

        if self.details is None:
            return host_facts()
        return EngineFacts(arch=self.details.arch, start_interval=self.details.start_interval)


def machine_checks(machine: Machine, project_root: Path | None) -> list[Result]:
    details = machine.details
    results = [check_cli(machine.cli, details.client_version if details else ""),
               check_engine(bool(machine.cli), details, machine.error, machine.endpoint),
               check_compose(bool(machine.cli), machine.compose, machine.standalone)]
    if details is None:
        return results + [skipped(name, "the engine is not reachable", "fix the engine check first")
                          for name in ("engine-version", "memory", "cpus", "disk")]
    results += [check_engine_version(details.server_version, details.api_version),
                check_memory(details.mem_total), check_cpus(details.ncpu)]
    if engine_is_local(details):
        path, what = details.docker_root_dir, "Docker's data folder"
    else:
        path, what = str(project_root or Path.cwd()), "the engine is not local: this folder's file system"
    results.append(check_disk(_free(path), path, what))
    return results


def _free(path: str) -> int | None:
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def project_checks(machine: Machine, project: "Project") -> list[Result]:
    from .. import engine
    from . import initialize

    facts = machine.facts()
    try:
        spec = project.spec(facts)
        spec_error = ""
    except AfcError as error:
        spec, spec_error = None, error.message
    results: list[Result] = []
    need_spec = f"the project's settings are invalid ({spec_error})" if spec_error else ""
    # 6. ports
    if spec is None:
        results.append(skipped("ports", need_spec, "fix the project-files check first"))
    else:
        containers = []
        if machine.details is not None:
            try:
                containers = engine.Stack(project, spec.project).containers()
            except AfcError:
                containers = []
        from .ports import holder, port_free

        results.append(check_ports(spec.published_ports, spec.host, held_ports(containers), port_free,
                                   holder))
    # 7. arch
    if spec is None:
        results.append(skipped("arch", need_spec, "fix the project-files check first"))
    elif machine.details is None:
        results.append(skipped("arch", "the engine is not reachable", "fix the engine check first"))
    else:
        available, how = (True, "") if spec.arch == machine.details.arch else \
            emulation_available(spec.arch, machine.details)
        results.append(check_arch(spec.arch, machine.details.arch, available, how))
    # 8. AIRFLOW_UID
    results.append(_uid_check(project, spec, need_spec, machine))
    # 9. project files
    def compose_validates(p: "Project") -> None:
        engine.validate_compose_files([str(f) for f in p.compose_files], str(p.root))

    validate = compose_validates if machine.compose else None
    files = check_project_files(initialize.check_project(project, facts, validate).problems)
    if files.status == OK and validate is None:
        files = Result(files.name, OK, ".env is complete and compose.yaml is current (not validated: `docker "
                                       "compose` is not available)")
    results.append(files)
    # 10. images
    if spec is None:
        results.append(skipped("images", need_spec, "fix the project-files check first"))
    elif machine.details is None:
        results.append(skipped("images", "the engine is not reachable", "fix the engine check first"))
    else:
        names = [spec.image.text] + ([] if spec.lite else [spec.postgres_image]) + ([spec.redis_image] if spec.celery else [])
        try:
            local = engine.inspect_images(list(dict.fromkeys(names)))
            arches = {image.reference: image.platform.split("/")[1] if image.present else None for image in local}
            results.append(check_images(spec.arch, arches, spec.image.text if spec.base else ""))
        except AfcError as error:
            results.append(Result("images", WARN, f"could not inspect the images: {error.message}", error.hint))
    return results


def _uid_check(project: "Project", spec: "StackSpec | None", need_spec: str, machine: Machine) -> Result:
    try:
        raw = project.file_values().get("AIRFLOW_UID", "")
    except AfcError as error:
        return skipped("airflow-uid", error.message, error.hint)
    if raw.strip() == "0" or spec is None:
        return check_uid(raw, 0, None, "", True, None) if raw.strip() == "0" else \
            skipped("airflow-uid", need_spec, "fix the project-files check first")
    logs_path = project.root / "logs"
    try:
        logs = logs_path.stat()
    except OSError:
        logs = None
    local_linux = platform.system() == "Linux" and (machine.details is None or not machine.details.desktop)
    my_uid = os.getuid() if hasattr(os, "getuid") else None
    return check_uid(raw, spec.airflow_uid, logs, str(logs_path), local_linux, my_uid)


def diagnose(project_dir: Path) -> Report:
    """Run every check that applies: the machine's always, the project's when `project_dir` is in one."""
    from ..project.files import find_project

    project = find_project(project_dir)
    # another Airflow stack's folder (the docker-compose quick start) gets the machine's checks only
    inside = project.exists() and (project.rendered_by_afc() or project.quickstart_file() is None)
    machine = Machine.probe()
    results = machine_checks(machine, project.root if inside else None)
    if inside:
        results += project_checks(machine, project)
    return Report(tuple(results), str(project.root) if inside else None, str(project.root))


# --- the subset that stops `afc up` ----------------------------------------------------------------------

def blocking_failures(ctx: "Context", containers: list["ContainerState"] | None = None) -> list[Result]:
    """The failed checks that would stop `afc up`: engine, compose plugin, busy ports, arch without emulation.
    Asked through the command's probe, and only what the decision needs: the `docker version` the spec was built
    with and the compose plugin; the engine's details (`docker info`, its endpoint) only to explain a failure or
    an arch that needs emulation."""
    from .. import engine

    probe = ctx.probe
    cli = shutil.which("docker")
    answered = bool(cli) and probe.error is None
    results = [check_cli(cli)]
    if cli and not answered:
        results.append(check_engine(True, None, probe.error, probe.endpoint))
    results.append(check_compose(bool(cli), probe.compose_version if cli else "", None))
    if answered:
        if containers is None:
            containers = ctx.snapshot()
        from .ports import holder, port_free

        results.append(check_ports(ctx.spec.published_ports, ctx.spec.host, held_ports(containers),
                                   port_free, holder))
        if ctx.spec.arch != probe.facts.arch:  # the spec's `auto` already is the engine's arch
            try:
                details = probe.details
                available, how = emulation_available(ctx.spec.arch, details)
                results.append(check_arch(ctx.spec.arch, details.arch, available, how))
            except AfcError as error:
                results.append(check_engine(True, None, error, probe.endpoint))
    failures = [r for r in results if r.status == FAIL and r.name in BLOCKING]
    if answered and ctx.spec.base is not None:
        # an image afc built cannot be pulled: say so before compose tries (a missing stock image is pulled)
        built = ctx.spec.image.text
        present = engine.inspect_images([built])[0].present
        failures += [r for r in [check_images(ctx.spec.arch, {built: "" if present else None}, built)]
                     if r.status == FAIL]
    return failures


def ensure_startable(ctx: "Context", containers: list["ContainerState"] | None = None) -> None:
    """Raise EnvironmentProblem (exit 4) naming the first blocking failure; the others go in the details."""
    failures = blocking_failures(ctx, containers)
    if failures:
        first = failures[0]
        details = "\n".join(f"{r.name}: {r.finding} — fix: {r.fix}" for r in failures[1:])
        raise EnvironmentProblem(first.finding, hint=first.fix, details=details)


# --- docs/troubleshooting.md --------------------------------------------------------------------------------

def example_results() -> dict[str, Result]:
    """A typical failing result of every check, produced by the real decision functions (for the docs)."""
    import types

    from ..stack.spec import PublishedPort
    from .initialize import Problem

    details = types.SimpleNamespace(server_version="24.0.7", api_version="1.43")
    logs = types.SimpleNamespace(st_uid=0, st_gid=0, st_mode=0o40755)
    found = [
        check_cli(None),
        check_engine(True, None, EnvironmentProblem("cannot reach the Docker engine: the Docker engine is not "
                                                    "running or not reachable", hint="start Docker (`sudo "
                                                    "systemctl start docker` or Docker Desktop); check "
                                                    "DOCKER_HOST and `docker context ls`"),
                     "unix:///var/run/docker.sock"),
        check_compose(True, "", ("/usr/bin/docker-compose", "1.29.2")),
        check_engine_version(details.server_version, details.api_version),
        check_memory(2 * GIB),
        check_cpus(1),
        check_disk(3 * GIB, "/var/lib/docker", "Docker's data folder"),
        check_ports([PublishedPort("webserver", 8080, 8080, "AFC_PORT", "web UI")], "127.0.0.1", set(), lambda host, port: False),
        check_arch("amd64", "arm64", False, "no qemu-x86_64 handler is registered in /proc/sys/fs/binfmt_misc"),
        check_uid("", 1000, logs, "/home/me/proj/logs", True, 1000),  # type: ignore[arg-type]
        check_project_files([Problem("/home/me/proj/.env is missing secret(s): AFC_JWT_SECRET",
                                     "run `afc init --force` to generate the missing ones (existing secrets, "
                                     "files and data are kept)")]),
        check_images("arm64", {"apache/airflow:3.3.2-python3.12": None}),
    ]
    return {r.name: r for r in found}


def troubleshooting_markdown() -> str:
    """The generated part of docs/troubleshooting.md: one entry per check."""
    lines = ["<!-- generated by `python -m airflow_compose.commands.doctor`: edit CATALOGUE in airflow_compose/commands/doctor.py -->",
             "", "## What `afc doctor` checks", "",
             "`afc doctor` runs the machine checks everywhere and the project checks inside a project "
             "(`afc -C DIR doctor`). Each check is `ok`, `warn` or `fail` (`skip` when an earlier check failed); "
             "the exit code is 4 when any check fails, 0 otherwise. `afc doctor --json` prints the same as JSON "
             "(`checks[].name` are the names below).", ""]
    examples = example_results()
    for doc in CATALOGUE:
        scope = "machine" if doc.name in MACHINE_CHECKS else "project"
        stops = " `afc up` refuses to start while it fails." if doc.name in BLOCKING else ""
        example = examples[doc.name]
        lines += [f"### `{doc.name}` — {doc.title} ({scope} check)", "",
                  f"- **Symptom:** {doc.symptom}",
                  f"- **What doctor says** (for example): `{example.status}` — {example.finding}; "
                  f"fix: {example.fix}.{stops}",
                  f"- **Fix:** {doc.fix}", ""]
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(troubleshooting_markdown(), end="")
