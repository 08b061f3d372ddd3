"""The only module that talks to Docker (through python-on-whales); it returns afc's own dataclasses."""
from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import subprocess
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator

from .errors import EnvironmentProblem, StackError
from .spec import EngineFacts, host_facts

if TYPE_CHECKING:
    from python_on_whales import DockerClient

    from .project import Project

START_INTERVAL_API = (1, 44)


def _client(**kwargs: Any) -> "DockerClient":
    from python_on_whales import DockerClient

    return DockerClient(client_type="docker", **kwargs)


def _last_line(text: str | None) -> str:
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


@contextlib.contextmanager
def docker_errors(action: str) -> Iterator[None]:
    """Turn python-on-whales' exceptions into afc's errors, keeping Docker's own message."""
    from python_on_whales.exceptions import DockerException
    from python_on_whales.client_config import ClientNotFoundError

    try:
        yield
    except ClientNotFoundError:
        raise EnvironmentProblem("the docker command is not installed (or not on PATH)",
                                 hint="install Docker Engine or Docker Desktop: https://docs.docker.com/get-docker/")
    except DockerException as error:
        message = (error.stderr or error.stdout or "").strip()
        raise classify(action, message, error.return_code) from None


def classify(action: str, message: str, code: int = 1) -> EnvironmentProblem | StackError:
    lower = message.lower()
    if "permission denied" in lower and "docker" in lower and "sock" in lower:
        return EnvironmentProblem(f"cannot {action}: permission denied on the Docker socket",
                                  hint="add yourself to the docker group (`sudo usermod -aG docker $USER`, then "
                                       "log in again) or use rootless Docker", details=message)
    if "cannot connect to the docker daemon" in lower or "error during connect" in lower \
            or "is the docker daemon running" in lower:
        return EnvironmentProblem(f"cannot {action}: the Docker engine is not running or not reachable",
                                  hint="start Docker (`sudo systemctl start docker` or Docker Desktop); check "
                                       "DOCKER_HOST and `docker context ls`", details=message)
    if "'compose' is not a docker command" in lower or "unknown command: docker compose" in lower:
        return compose_missing()
    return StackError(f"cannot {action}: {_last_line(message) or f'docker exited with {code}'}", details=message)


def compose_missing() -> EnvironmentProblem:
    return EnvironmentProblem("the Docker Compose v2 plugin (`docker compose`) is not installed",
                              hint="install the docker-compose-plugin package, or put the compose binary in "
                                   "~/.docker/cli-plugins/docker-compose (the old `docker-compose` v1 is not enough)")


@dataclass(frozen=True)
class EngineInfo:
    client_version: str
    server_version: str
    api_version: str
    arch: str
    os: str
    compose_version: str

    @property
    def start_interval(self) -> bool:
        return api_tuple(self.api_version) >= START_INTERVAL_API


def api_tuple(version: str) -> tuple[int, int]:
    try:
        major, minor = version.split(".")[:2]
        return int(major), int(minor)
    except ValueError:
        return (0, 0)


def engine_info() -> EngineInfo:
    """Versions of the client, engine, API and compose plugin; raises when the engine is unreachable."""
    docker = _client()
    with docker_errors("reach the Docker engine"):
        version = docker.version()
    if version.server is None:
        raise EnvironmentProblem("the Docker engine did not answer", hint="start Docker and check DOCKER_HOST")
    return EngineInfo(client_version=str(version.client.version), server_version=str(version.server.version),
                      api_version=str(version.server.api_version), arch=str(version.server.arch),
                      os=str(version.server.os), compose_version=compose_version())


def compose_version() -> str:
    """The compose plugin's version, or "" when `docker compose` is missing."""
    docker = _client()
    try:
        return str(docker.compose.version()).split()[-1].lstrip("v")
    except Exception:  # is_installed()/version() raise differently across CLIs
        return ""


@functools.lru_cache(maxsize=1)
def facts() -> EngineFacts:
    """Facts for rendering: the engine's arch and start_interval support, or this host's when it is down."""
    docker = _client()
    try:
        version = docker.version()
        return EngineFacts(arch=str(version.server.arch),
                           start_interval=api_tuple(str(version.server.api_version)) >= START_INTERVAL_API)
    except Exception:
        return host_facts()


def validate_compose_files(files: list[str], project_dir: str) -> None:
    """Ask the real compose plugin to validate the project's files (`docker compose config`)."""
    docker = _client(compose_files=files, compose_project_directory=project_dir)
    if not compose_version():
        raise compose_missing()
    with docker_errors(f"validate {' + '.join(files)}"):
        docker.compose.config(return_json=True)


# --- the running stack -------------------------------------------------------------------------------

@dataclass(frozen=True)
class ContainerState:
    """One container of the stack, read from a single `docker inspect`."""

    service: str
    name: str
    number: int
    state: str            # created, running, restarting, exited, ...
    health: str           # healthy, unhealthy, starting, or "" when the service has no health check
    exit_code: int
    restarts: int
    started_at: dt.datetime | None
    ports: tuple[str, ...]
    health_log: tuple[str, ...] = field(default=(), compare=False)
    config_hash: str = ""

    @property
    def ready(self) -> bool:
        if self.service == "init":
            return self.state == "exited" and self.exit_code == 0
        return self.state == "running" and self.health in ("healthy", "")

    def uptime(self, now: dt.datetime) -> float | None:
        if self.state != "running" or self.started_at is None:
            return None
        return max(0.0, (now - self.started_at).total_seconds())


def _parse_time(text: str) -> dt.datetime | None:
    if not text or text.startswith("0001-"):
        return None
    text = text.rstrip("Z")
    main, _, frac = text.partition(".")
    try:
        return dt.datetime.fromisoformat(main + ("." + frac[:6] if frac else "")).replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return None


def _container_state(raw: dict[str, Any]) -> ContainerState:
    labels = raw.get("Config", {}).get("Labels") or {}
    state = raw.get("State", {})
    health = state.get("Health") or {}
    ports = []
    for container_port, bindings in sorted((raw.get("NetworkSettings", {}).get("Ports") or {}).items()):
        for binding in bindings or []:
            ports.append(f"{binding.get('HostIp') or '0.0.0.0'}:{binding.get('HostPort')}->{container_port}")
    log = tuple((entry.get("Output") or "").strip() for entry in (health.get("Log") or []))
    return ContainerState(
        service=labels.get("com.docker.compose.service", "?"),
        name=raw.get("Name", "").lstrip("/"),
        number=int(labels.get("com.docker.compose.container-number", "1") or 1),
        state=state.get("Status", "unknown"),
        health=health.get("Status", ""),
        exit_code=int(state.get("ExitCode") or 0),
        restarts=int(raw.get("RestartCount") or 0),
        started_at=_parse_time(state.get("StartedAt", "")),
        ports=tuple(ports),
        health_log=log,
        config_hash=labels.get("com.docker.compose.config-hash", ""),
    )


class Stack:
    """One compose project: the verbs afc's commands use, over one python-on-whales client."""

    def __init__(self, project: "Project", project_name: str):
        self.project = project
        self.name = project_name
        self.docker = _client(compose_files=[str(p) for p in project.compose_files],
                              compose_project_directory=str(project.root), compose_project_name=project_name)

    # -- reading state --
    def containers(self) -> list[ContainerState]:
        """Every container of the project (running or not), via `docker ps` + one `docker inspect`."""
        docker = self.docker
        with docker_errors("list the stack's containers"):
            ids = docker.docker_cmd + ["ps", "--all", "--quiet", "--no-trunc",
                                       "--filter", f"label=com.docker.compose.project={self.name}"]
            from python_on_whales.utils import run

            found = run(ids).split()
            if not found:
                return []
            raw = json.loads(run(docker.docker_cmd + ["inspect", *found]))
        states = [_container_state(item) for item in raw]
        return sorted(states, key=lambda c: (c.service, c.number))

    def config_hashes(self) -> dict[str, str]:
        """Compose's own hash of each service's configuration (what it compares to decide to recreate)."""
        from python_on_whales.utils import run

        with docker_errors("read the compose configuration"):
            output = run(self.docker.docker_compose_cmd + ["config", "--hash", "*"])
        return dict(line.split(maxsplit=1) for line in output.splitlines() if len(line.split()) == 2)

    # -- changing state --
    def up(self, services: list[str] | None = None, *, recreate: bool = True,
           scales: dict[str, int] | None = None, no_deps: bool = False) -> None:
        """`docker compose up --detach`: returns once compose has started what it could (not healthy)."""
        with docker_errors("start the stack"):
            self.docker.compose.up(services or None, detach=True, quiet=True, remove_orphans=not services,
                                   scales=scales or {}, recreate=recreate, dependencies=not no_deps)

    def down(self, volumes: bool = False) -> None:
        with docker_errors("remove the stack"):
            self.docker.compose.down(volumes=volumes, remove_orphans=True, quiet=True)

    def stop(self, services: list[str] | None = None) -> None:
        with docker_errors("stop the stack"):
            self.docker.compose.stop(services or None)

    def start(self, services: list[str] | None = None) -> None:
        with docker_errors("start the stack"):
            self.docker.compose.start(services or None)

    def restart(self, services: list[str] | None = None) -> None:
        with docker_errors("restart services"):
            self.docker.compose.restart(services or None)

    def logs_text(self, service: str, tail: int = 30) -> str:
        with docker_errors(f"read the logs of {service}"):
            return self.docker.compose.logs([service], tail=str(tail), no_log_prefix=True)

    def volume_names(self) -> list[str]:
        with docker_errors("list volumes"):
            return [v.name for v in self.docker.volume.list(filters={"label": f"com.docker.compose.project={self.name}"})]

    # -- commands the user attaches to --
    def compose_command(self, *args: str) -> list[str]:
        """The full `docker compose …` command for this project, as python-on-whales builds it."""
        return list(self.docker.docker_compose_cmd) + list(args)

    def run_attached(self, *args: str, capture: bool = False) -> subprocess.CompletedProcess:
        """Run a compose subcommand with the terminal attached (exec, logs -f); returns its exit status."""
        command = self.compose_command(*args)
        try:
            return subprocess.run(command, capture_output=capture, text=capture)
        except FileNotFoundError:
            raise EnvironmentProblem("the docker command is not installed (or not on PATH)",
                                     hint="install Docker Engine or Docker Desktop")

    def exec_capture(self, service: str, command: list[str]) -> tuple[int, str]:
        """Run a command in a service's first container and capture its output (for health probes)."""
        from python_on_whales.exceptions import DockerException

        try:
            return 0, (self.docker.compose.execute(service, command, tty=False) or "").strip()
        except DockerException as error:
            return error.return_code, ((error.stdout or "") + (error.stderr or "")).strip()
