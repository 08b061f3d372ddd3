"""The only module that talks to Docker (through python-on-whales); it returns afc's own dataclasses."""
from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import re
import subprocess
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator

from ..errors import EnvironmentProblem, StackError
from ..stack.spec import EngineFacts, host_facts

if TYPE_CHECKING:
    from python_on_whales import DockerClient

    from ..project.files import Project

START_INTERVAL_API = (1, 44)
HEAL_MARK = "afc-heal:"  # the line a service's health check logs before it kills the service (compose/stack.yaml)


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
    registry = _registry_problem(action, message)
    if registry is not None:
        return registry
    return StackError(f"cannot {action}: {_last_line(message) or f'docker exited with {code}'}", details=message)


# What registries answer when an image cannot be had, as the engine passes it on (distribution, Docker Hub).
_MISSING = ("manifest unknown", "name unknown", "not found: manifest")
_REFUSED = ("no basic auth credentials", "unauthorized", "authentication required", "pull access denied",
            "requested access to the resource is denied", "denied:")
_UNREACHABLE = ("dial tcp", "no such host", "i/o timeout", "connection refused", "tls handshake", "x509:",
                "server gave http response to https client", "context deadline exceeded")


def _registry_problem(action: str, message: str) -> EnvironmentProblem | None:
    """A registry's refusal (missing tag or repository, refused login, unreachable) in its own words; exit 4."""
    lower = message.lower()
    words = _last_line(message).removeprefix("Error response from daemon: ")
    if any(sign in lower for sign in _MISSING):
        hint = ("the registry has no such tag (or no such repository): check the image name and tag (`afc images "
                "TAG` lists a release's tags), or push the image there first")
    elif "repository does not exist" in lower:
        hint = ("the repository does not exist, or it is private: check the name, or log in first with "
                "`docker login REGISTRY`")
    elif any(sign in lower for sign in _REFUSED):
        hint = ("the registry refused the login: log in with `docker login REGISTRY` (or renew the password or "
                "token), or check that your account may pull this repository")
    elif any(sign in lower for sign in _UNREACHABLE):
        hint = ("the registry cannot be reached: check the address and your network or proxy; a registry without "
                "TLS must be listed in the engine's insecure-registries (localhost is trusted)")
    else:
        return None
    return EnvironmentProblem(f"cannot {action}: {words}", hint=hint,
                              details=message if "\n" in message.strip() else "")


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


def _answered_version(docker: "DockerClient") -> Any:
    """`docker version` with the engine's part present; raises afc's classified error otherwise."""
    with docker_errors("reach the Docker engine"):
        version = docker.version()
    if version.server is None:
        raise EnvironmentProblem("the Docker engine did not answer", hint="start Docker and check DOCKER_HOST")
    return version


def engine_info() -> EngineInfo:
    """Versions of the client, engine, API and compose plugin; raises when the engine is unreachable."""
    version = _answered_version(_client())
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
    oom_killed: bool = False                  # the last exit was the kernel's OOM killer
    finished_at: dt.datetime | None = None    # the last exit (kept by Docker while the container runs again)
    image: str = ""       # the reference the container was created from

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
        oom_killed=bool(state.get("OOMKilled")),
        finished_at=_parse_time(state.get("FinishedAt", "")),
        image=(raw.get("Config") or {}).get("Image", ""),
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
        from python_on_whales.exceptions import DockerException
        from python_on_whales.utils import run

        docker = self.docker
        listing = docker.docker_cmd + ["ps", "--all", "--quiet", "--no-trunc",
                                       "--filter", f"label=com.docker.compose.project={self.name}"]
        with docker_errors("list the stack's containers"):
            for attempt in range(3):
                found = run(listing).split()
                if not found:
                    return []
                try:
                    raw = json.loads(run(docker.docker_cmd + ["inspect", *found]))
                    break
                except DockerException as error:
                    # compose may remove a container between `ps` and `inspect` (recreation): list again
                    if "no such object" not in (error.stderr or "").lower() or attempt == 2:
                        raise
        states = [_container_state(item) for item in raw]
        return sorted(states, key=lambda c: (c.service, c.number))

    def restart_reason(self, container: ContainerState) -> str:
        """Why Docker last restarted a container: the `afc-heal:` line its health check logged before killing it,
        the OOM killer, or else the last line it printed before it exited ("" when it never restarted)."""
        if not container.restarts:
            return ""
        if container.oom_killed:
            return "killed by the kernel: out of memory (give Docker more memory)"
        if container.finished_at is None:
            return "exited"
        since = container.finished_at - dt.timedelta(minutes=3)
        until = max(container.started_at or container.finished_at, container.finished_at) + dt.timedelta(seconds=1)
        try:  # only the minutes before the exit: reading a long log from its start would be slow
            with docker_errors(f"read the logs of {container.name}"):
                text = self.docker.container.logs(container.name, since=since, until=until)
        except StackError:
            return "exited"
        lines = [line.strip() for line in str(text).splitlines() if line.strip()]
        healed = [line for line in lines if line.startswith(HEAL_MARK)]
        if healed:
            return healed[-1]
        return f"exited; its last output: {lines[-1][-200:]}" if lines else "exited"

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
        """`docker compose down`; its anonymous volumes go too (compose keeps them without `--volumes`, and the
        next `up` would never use them again), the named ones (the DB) only with `volumes`."""
        anonymous = self.anonymous_volumes()
        with docker_errors("remove the stack"):
            self.docker.compose.down(volumes=volumes, remove_orphans=True, quiet=True)
        self.remove_volumes(anonymous)

    def remove(self, services: list[str] | None = None) -> None:
        """Stop and remove containers (`docker compose rm --stop --force --volumes`: their anonymous volumes
        too); named volumes (the DB) are kept. The next `up` creates them afresh: no stale health status,
        and init runs (migrates) again."""
        with docker_errors("remove containers"):
            self.docker.compose.rm(services or None, stop=True, volumes=True)

    def anonymous_volumes(self) -> list[str]:
        """Volumes of the stack's containers that compose did not name (those images' `VOLUME`s)."""
        from python_on_whales.utils import run

        with docker_errors("inspect the stack's containers"):
            ids = run(self.docker.docker_cmd + ["ps", "--all", "--quiet", "--filter",
                                                f"label=com.docker.compose.project={self.name}"]).split()
            if not ids:
                return []
            raw = json.loads(run(self.docker.docker_cmd + ["inspect", *ids]))
        named = set(self.volume_names())
        # the engine names an anonymous volume with 64 hex digits; any other name is someone's named volume
        return sorted({mount["Name"] for item in raw for mount in item.get("Mounts") or []
                       if mount.get("Type") == "volume" and re.fullmatch(r"[0-9a-f]{64}", mount.get("Name") or "")
                       and mount["Name"] not in named})

    def remove_volumes(self, names: list[str]) -> list[str]:
        """Remove volumes no container uses any more; the ones removed."""
        from python_on_whales.exceptions import DockerException

        removed = []
        for name in names:
            try:
                self.docker.volume.remove(name)
                removed.append(name)
            except DockerException:  # still in use (e.g. by a container of another project) or gone
                continue
        return removed

    def stop(self, services: list[str] | None = None) -> None:
        with docker_errors("stop the stack"):
            self.docker.compose.stop(services or None)

    def restart(self, services: list[str] | None = None) -> None:
        with docker_errors("restart services"):
            self.docker.compose.restart(services or None)

    def logs_text(self, service: str, tail: int = 30) -> str:
        with docker_errors(f"read the logs of {service}"):
            return self.docker.compose.logs([service], tail=str(tail), no_log_prefix=True)

    def volume_names(self) -> list[str]:
        with docker_errors("list volumes"):
            return [v.name for v in self.docker.volume.list(filters={"label": f"com.docker.compose.project={self.name}"})]

    def postgres_data(self, image: str) -> "PostgresData | None":
        """What the stack's database volume holds, read by a one-off container of `image` (the server
        version comes from the image itself: a stand-in's tag may name another major); None without a volume."""
        volume = f"{self.name}_postgres-data"
        with docker_errors("inspect the database volume"):
            if not self.docker.volume.exists(volume):
                return None
            output = self.docker.run(image, ["-c", _PG_DATA_PROBE], entrypoint="sh", remove=True,
                                     volumes=[(volume, "/v", "ro")], user="0")
        return _postgres_data(volume, str(output))

    # -- commands the user attaches to --
    def compose_command(self, *args: str) -> list[str]:
        """The full `docker compose …` command for this project, as python-on-whales builds it."""
        return list(self.docker.docker_compose_cmd) + list(args)

    def exec_capture(self, service: str, command: list[str]) -> tuple[int, str]:
        """Run a command in a service's first container and capture its output (for health probes)."""
        from python_on_whales.exceptions import DockerException

        try:
            return 0, (self.docker.compose.execute(service, command, tty=False) or "").strip()
        except DockerException as error:
            return error.return_code, ((error.stdout or "") + (error.stderr or "")).strip()


# The server major of the image, then each PG_VERSION found at the volume's root (postgres up to 17) or
# under <major>/docker (postgres 18+), with the folder it is in.
_PG_DATA_PROBE = ('postgres --version; for f in /v/PG_VERSION /v/*/docker/PG_VERSION; do '
                  '[ -f "$f" ] && echo "data $(dirname "$f") $(cat "$f")"; done; true')


@dataclass(frozen=True)
class PostgresData:
    volume: str
    server_major: int | None     # the image's PostgreSQL major
    data_major: int | None       # the cluster's major in the volume (None: no cluster yet)
    data_dir: str                # where in the volume: "" (its root, up to 17) or "<major>/docker" (18+)


def _postgres_data(volume: str, output: str) -> PostgresData:
    server = re.search(r"\(PostgreSQL\)\s+(\d+)", output)
    data = re.search(r"^data /v/?(\S*) (\d+)", output, re.MULTILINE)
    return PostgresData(volume, int(server[1]) if server else None, int(data[2]) if data else None,
                        data[1] if data else "")


# --- which folder a compose project name belongs to (identity.py decides) ---------------------------------

PROJECT_LABEL = "com.docker.compose.project"
WORKING_DIR_LABEL = "com.docker.compose.project.working_dir"


@dataclass(frozen=True)
class StackClaim:
    """What the engine holds under one compose project name: the working folders compose recorded on its
    containers (running or not) and the names of its volumes."""

    name: str
    working_dirs: tuple[str, ...]
    volumes: tuple[str, ...]


def stack_claim(name: str, with_volumes: bool = True) -> StackClaim:
    """One `docker ps` (and one `docker volume ls`) filtered by the compose project label."""
    from python_on_whales.utils import run

    docker = _client()
    with docker_errors(f"check which folder owns the compose project '{name}'"):
        listing = run(docker.docker_cmd + ["ps", "--all", "--filter", f"label={PROJECT_LABEL}={name}",
                                           "--format", f'{{{{.Label "{WORKING_DIR_LABEL}"}}}}'])
        volumes = run(docker.docker_cmd + ["volume", "ls", "--quiet", "--filter",
                                           f"label={PROJECT_LABEL}={name}"]) if with_volumes else ""
    dirs = tuple(sorted({line.strip() for line in listing.splitlines() if line.strip()}))
    return StackClaim(name, dirs, tuple(sorted(volumes.split())))


# --- local images (afc images, afc upgrade) ------------------------------------------------------------

@dataclass(frozen=True)
class LocalImage:
    """What the engine holds locally for one image reference (nothing is pulled)."""

    reference: str
    present: bool
    id: str = ""
    size: int = 0
    created: dt.datetime | None = None
    platform: str = ""


def inspect_images(references: list[str]) -> list[LocalImage]:
    """`docker image inspect` of each reference; a reference the engine does not hold is `present=False`."""
    from python_on_whales.exceptions import NoSuchImage

    docker = _client()
    found: list[LocalImage] = []
    for reference in references:
        try:
            with docker_errors(f"inspect the image {reference}"):
                try:
                    image = docker.image.inspect(reference)
                except NoSuchImage:
                    found.append(LocalImage(reference, False))
                    continue
        except StackError as error:  # e.g. an invalid reference: report it as absent, keep the others
            found.append(LocalImage(reference, False, platform=f"({error.message})"))
            continue
        created = image.created
        if created is not None and created.tzinfo is None:
            created = created.replace(tzinfo=dt.timezone.utc)
        platform = f"{image.os}/{image.architecture}" + (f"/{image.variant}" if image.variant else "")
        found.append(LocalImage(reference, True, str(image.id), int(image.size or 0), created, platform))
    return found


# --- afc audit: what an image holds ------------------------------------------------------------------------

# Sections of one `sh` run in a one-off container (entrypoint bypassed): the Python packages as pip lists
# them, the base system, the Debian packages and the release's constraints (in every image since 2.9).
_INVENTORY_SECTIONS = {
    "pip": "python -m pip list --format=freeze --disable-pip-version-check 2>/dev/null",
    "os": "cat /etc/os-release 2>/dev/null",
    "dpkg": "dpkg-query -W -f '${Package}\t${Version}\n' 2>/dev/null",
    "constraints": "cat /home/airflow/constraints.txt 2>/dev/null",
}


def image_inventory(reference: str, sections: tuple[str, ...] = tuple(_INVENTORY_SECTIONS)) -> dict[str, str]:
    """The text of each section (pip freeze, os-release, dpkg list, constraints) of a local image, read by
    one short-lived container of it; a missing part is an empty text."""
    script = "; ".join(f"echo '@@afc {name}'; {_INVENTORY_SECTIONS[name]}" for name in sections) + "; true"
    docker = _client()
    with docker_errors(f"read the packages of the image {reference}"):
        output = str(docker.run(reference, ["-c", script], entrypoint="sh", remove=True, networks=["none"]))
    found: dict[str, list[str]] = {name: [] for name in sections}
    current = None
    for line in output.splitlines():
        if line.startswith("@@afc "):
            current = line[6:].strip()
        elif current in found:
            found[current].append(line)
    return {name: "\n".join(lines) for name, lines in found.items()}


def repository_tags(repository: str) -> list[str]:
    """The tags the engine holds of one image repository (e.g. apache/airflow)."""
    docker = _client()
    with docker_errors(f"list the local images of {repository}"):
        images = docker.image.list(repository)
    prefix = repository + ":"
    return sorted({tag[len(prefix):] for image in images for tag in (image.repo_tags or []) if tag.startswith(prefix)})
# --- the project's own images (afc build, afc swarm build): what is there, what is in use, removing ---------

@dataclass(frozen=True)
class BuiltImage:
    """One tag of the project's image repository."""

    reference: str
    id: str
    created: dt.datetime | None
    labels: dict[str, str] = field(default_factory=dict, compare=False)


def repository_images(repository: str) -> list[BuiltImage]:
    """Every tag of a local repository (e.g. `<project>-airflow`), newest first."""
    docker = _client()
    with docker_errors(f"list the images {repository}:*"):
        images = docker.image.list(repository)
    found = []
    for image in images:
        created = image.created
        if created is not None and created.tzinfo is None:
            created = created.replace(tzinfo=dt.timezone.utc)
        for reference in image.repo_tags or []:
            if reference.rsplit(":", 1)[0] == repository:
                found.append(BuiltImage(reference, str(image.id), created, dict(image.config.labels or {})))
    oldest = dt.datetime.min.replace(tzinfo=dt.timezone.utc)
    return sorted(found, key=lambda i: (i.created or oldest, i.reference), reverse=True)


def image_ids_in_use() -> set[str]:
    """Ids of the images of every container on the engine, running or not (they cannot be removed)."""
    docker = _client()
    with docker_errors("list the containers"):
        return {str(container.image) for container in docker.container.list(all=True)}


def remove_image_tags(references: list[str]) -> list[str]:
    """Remove image tags (never forced: an image a container uses stays); the ones removed."""
    from python_on_whales.exceptions import DockerException

    docker = _client()
    removed = []
    for reference in references:
        try:
            docker.image.remove(reference)
            removed.append(reference)
        except DockerException:  # in use, or removed meanwhile: it stays, or is gone anyway
            continue
    return removed


# --- afc build: building the project's image ------------------------------------------------------------

@dataclass(frozen=True)
class BaseImage:
    """What a build needs to know of its base: the image id (part of the content hash) and its user."""

    id: str
    user: str


def base_image(reference: str) -> BaseImage:
    """Inspect the base image, pulling it first when the engine does not hold it."""
    image, _pulled = _inspect_or_pull(reference)
    return BaseImage(id=str(image.id), user=str(image.config.user or ""))


def image_exists(reference: str) -> bool:
    return inspect_images([reference])[0].present


@dataclass(frozen=True)
class BuildOutcome:
    ok: bool
    output: tuple[str, ...]       # every line the builder printed, for the failure report
    error: str = ""               # the builder's own error line when not ok


_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # the builder colours the failing step's stderr


class _LineSink:
    """A stdout stand-in: python-on-whales prints the build's progress; each line goes to a callback."""

    def __init__(self, on_line: Callable[[str], None]) -> None:
        self.on_line = on_line
        self.lines: list[str] = []
        self._partial = ""

    def write(self, text: str) -> int:
        self._partial += text
        *complete, self._partial = self._partial.split("\n")
        for line in complete:
            line = _ANSI.sub("", line).rstrip()
            self.lines.append(line)
            self.on_line(line)
        return len(text)

    def flush(self) -> None:
        pass


def build_image(context: str, tag: str, on_line: Callable[[str], None]) -> BuildOutcome:
    """`docker build` of a prepared context with the classic builder, streaming its lines to `on_line`.

    A failing build step (pip, apt) comes back as `ok=False` with the output; an engine problem raises."""
    import os
    from contextlib import redirect_stdout

    from python_on_whales.exceptions import DockerException

    sink = _LineSink(on_line)
    previous = os.environ.get("DOCKER_BUILDKIT")
    os.environ["DOCKER_BUILDKIT"] = "0"  # the classic builder: its plain step output is what we stream
    try:
        with redirect_stdout(sink):
            _client().legacy_build(context, tags=[tag], quiet=False)
    except DockerException as error:
        message = _ANSI.sub("", error.stderr or "").strip()
        if "returned a non-zero code" in message or sink.lines:
            _remove_failed_step(sink.lines)
            return BuildOutcome(False, tuple(sink.lines), _last_line(message))
        raise classify(f"build {tag}", message, error.return_code) from None
    finally:
        if previous is None:
            os.environ.pop("DOCKER_BUILDKIT", None)
        else:
            os.environ["DOCKER_BUILDKIT"] = previous
    return BuildOutcome(True, tuple(sink.lines))


def _remove_failed_step(lines: list[str]) -> None:
    """The classic builder keeps the container of a failed step; nothing of a failed build should stay."""
    running = [line.split("Running in", 1)[1].strip() for line in lines if "---> Running in" in line]
    if running:
        try:
            _client().container.remove(running[-1], force=True)
        except Exception:  # already gone, or never created: nothing to clean
            pass


# --- doctor: what the engine and the CLI can tell about themselves ---------------------------------------

@dataclass(frozen=True)
class EngineDetails:
    """`docker version` + `docker info` facts for `afc doctor`."""

    client_version: str
    server_version: str
    api_version: str
    arch: str               # GOARCH style (amd64, arm64)
    os_type: str            # linux, windows
    operating_system: str   # e.g. "Debian GNU/Linux 12 (bookworm)", "Docker Desktop"
    mem_total: int          # bytes available to containers
    ncpu: int
    docker_root_dir: str
    endpoint: str           # unix:///var/run/docker.sock, tcp://…, ssh://…

    @property
    def start_interval(self) -> bool:
        return api_tuple(self.api_version) >= START_INTERVAL_API

    @property
    def desktop(self) -> bool:
        return "docker desktop" in self.operating_system.lower()


def docker_endpoint() -> str:
    """The engine address the CLI uses (DOCKER_HOST or the current context); "" when unknown."""
    try:
        context = _client().context.inspect()
        endpoint = context.endpoints.get("docker")
        return str(endpoint.host) if endpoint is not None and endpoint.host else ""
    except Exception:  # no CLI, a broken context: the engine check reports the real problem
        return ""


def engine_details() -> EngineDetails:
    """Versions, arch and resources of the engine; raises afc's classified error when it cannot be reached."""
    docker = _client()
    version = _answered_version(docker)
    with docker_errors("read `docker info`"):
        info = docker.system.info()
    return EngineDetails(
        client_version=str(version.client.version or ""), server_version=str(version.server.version or ""),
        api_version=str(version.server.api_version or ""), arch=str(version.server.arch or ""),
        os_type=str(info.os_type or version.server.os or ""), operating_system=str(info.operating_system or ""),
        mem_total=int(info.mem_total or 0), ncpu=int(info.n_cpu or 0),
        docker_root_dir=str(info.docker_root_dir or ""), endpoint=docker_endpoint())


def standalone_compose() -> tuple[str, str] | None:
    """A standalone `docker-compose` on PATH (path, version), which python-on-whales cannot use."""
    import shutil

    path = shutil.which("docker-compose")
    if not path:
        return None
    try:
        done = subprocess.run([path, "version", "--short"], capture_output=True, text=True, timeout=20)
        return path, (done.stdout.strip().splitlines() or [""])[0].lstrip("v")
    except (OSError, subprocess.SubprocessError):
        return path, ""


# --- streaming bytes through `docker compose exec` (backup and restore) ---------------------------------
# python-on-whales runs `docker compose exec` with captured text output and cannot stream binary stdin or
# stdout, so these run the command it builds (`Stack.compose_command`) with the file handed to the child as
# its stdin or stdout: the bytes never pass through Python, and a large dump needs no memory.

def run_child(argv: list[str], stdin: Any = None, stdout: Any = None,
              capture_stderr: bool = False, own_group: bool = False) -> tuple[int, bytes]:
    """Run a docker command built by python-on-whales with our terminal or files attached; on Ctrl-C stop
    it and wait for it, so no `docker compose` process is left behind. `own_group` puts the command in a
    process group of its own that is stopped as a whole: the docker CLI does not always pass a stop on to
    the compose plugin it runs (seen with `logs -f` on Docker 26), so both are signalled."""
    import os
    import signal

    try:
        child = subprocess.Popen(argv, stdin=stdin, stdout=stdout, start_new_session=own_group,
                                 stderr=subprocess.PIPE if capture_stderr else None)
    except FileNotFoundError:
        raise EnvironmentProblem("the docker command is not installed (or not on PATH)",
                                 hint="install Docker Engine or Docker Desktop")

    def stop(sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, sig) if own_group else child.send_signal(sig)

    try:
        _, errors = child.communicate()
    except BaseException:
        stop(signal.SIGTERM)
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            stop(signal.SIGKILL)
            child.wait()
        raise
    return child.returncode, errors or b""


def _exec_streaming(stack: Stack, service: str, command: list[str], stdin: Any, stdout: Any) -> tuple[int, str]:
    argv = stack.compose_command("exec", "-T", service, *command)
    returncode, errors = run_child(argv, stdin=stdin, stdout=stdout, capture_stderr=True)
    text = errors.decode(errors="replace")
    if returncode != 0 and text:
        problem = classify(f"run {command[0]} in {service}", text, returncode)
        if isinstance(problem, EnvironmentProblem):
            raise problem
    return returncode, text


def exec_to_file(stack: Stack, service: str, command: list[str], sink: Any) -> tuple[int, str]:
    """Run `command` in `service`, its stdout written to the binary file `sink`; (exit code, stderr)."""
    return _exec_streaming(stack, service, command, subprocess.DEVNULL, sink)


def exec_from_file(stack: Stack, service: str, command: list[str], source: Any) -> tuple[int, str]:
    """Run `command` in `service` with the binary file `source` as its stdin; (exit code, stderr)."""
    return _exec_streaming(stack, service, command, source, subprocess.DEVNULL)


def _compose_streaming(stack: Stack, args: list[str], stdin: Any, stdout: Any) -> tuple[int, str]:
    returncode, errors = run_child(stack.compose_command(*args), stdin=stdin, stdout=stdout, capture_stderr=True)
    text = errors.decode(errors="replace")
    if returncode != 0 and text:
        problem = classify("run a one-off container", text, returncode)
        if isinstance(problem, EnvironmentProblem):
            raise problem
    return returncode, text


def compose_run_to_file(stack: Stack, args: list[str], sink: Any) -> tuple[int, str]:
    """`docker compose ARGS` (a one-off `run`), its stdout written to the binary file `sink`; (exit code, stderr)."""
    return _compose_streaming(stack, args, subprocess.DEVNULL, sink)


def compose_run_from_file(stack: Stack, args: list[str], source: Any) -> tuple[int, str]:
    """`docker compose ARGS` (a one-off `run`) with the binary file `source` as its stdin; (exit code, stderr)."""
    return _compose_streaming(stack, args, source, subprocess.DEVNULL)


# --- pulling images before anything starts ---------------------------------------------------------------

@dataclass(frozen=True)
class PullProgress:
    """Where the pull of one image stands. The CLI's plain output counts layers, not bytes."""

    reference: str
    layers: int = 0           # layers of the image announced so far
    done: int = 0             # layers in place: pulled, or already held by the engine
    status: str = ""          # the engine's latest word on it ("Pulling fs layer", "Download complete", ...)
    finished: bool = False
    error: str = ""           # the registry's words when this image could not be pulled


def missing_images(references: list[str]) -> list[str]:
    """The references the engine does not hold (nothing is pulled)."""
    return [image.reference for image in inspect_images(list(dict.fromkeys(references))) if not image.present]


_LAYER_LINE = re.compile(r"^([0-9a-f]{12}): (.+)$")
_LAYER_DONE = ("Pull complete", "Already exists")


def pull_images(references: list[str]) -> Iterator[PullProgress]:
    """Pull images, several at once, yielding their progress. When one cannot be pulled the others still end,
    then afc's classified error (the registry's words, exit 4) is raised for the first that failed."""
    from python_on_whales.exceptions import DockerException

    layers: dict[str, dict[str, str]] = {reference: {} for reference in references}
    failed: dict[str, str] = {}
    docker = _client()

    def progress(reference: str, status: str, finished: bool = False) -> PullProgress:
        states = layers[reference]
        return PullProgress(reference, len(states), sum(s in _LAYER_DONE for s in states.values()), status,
                            finished, failed.get(reference, ""))

    with docker_errors("pull images"):
        try:
            stream = docker.image.pull(references if len(references) > 1 else references[0], stream_logs=True)
            for reference, raw in stream:
                line = raw.decode(errors="replace").strip()
                layer = _LAYER_LINE.match(line)
                if layer:
                    layers[reference][layer.group(1)] = layer.group(2)
                    yield progress(reference, layer.group(2))
                elif line.startswith("Error") or line.startswith("error"):
                    failed[reference] = line.removeprefix("Error response from daemon: ")
                    yield progress(reference, "failed", finished=True)
                elif line.startswith("Status:"):
                    yield progress(reference, line.removeprefix("Status: "), finished=True)
        except DockerException as error:
            command = [str(part) for part in (error.docker_command or [])]
            first = command[-1] if command and command[-1] in layers else next(iter(failed), references[0])
            problem = classify(f"pull the image {first}", (error.stderr or "").strip(), error.return_code)
            if len(failed) > 1:
                problem.details = "\n".join(f"{name}: {words}" for name, words in failed.items())
            raise problem from None


# --- afc upgrade: images and containers ----------------------------------------------------------------

def _inspect_or_pull(reference: str) -> tuple[Any, bool]:
    """The image as the engine holds it, pulled first when missing; and whether it had to pull."""
    from python_on_whales.exceptions import NoSuchImage

    docker = _client()
    with docker_errors(f"inspect the image {reference}"):
        try:
            return docker.image.inspect(reference), False
        except NoSuchImage:
            pass
    with docker_errors(f"pull the image {reference}"):
        docker.image.pull(reference, quiet=True)
        return docker.image.inspect(reference), True


# --- swarm ---
# `afc swarm`: the engine's swarm state, one stack's services, tasks, secrets and volumes. The reads use the
# docker CLI's JSON (`inspect`) through python-on-whales' runner: its pydantic models of services and tasks
# predate swarm jobs, and one `inspect` of many ids is one process instead of one per object.

SWARM_STACK_LABEL = "com.docker.stack.namespace"
SECRET_STACK_LABEL = "org.afc.swarm-stack"


@dataclass(frozen=True)
class SwarmInfo:
    """`docker info` about swarm mode on the engine afc talks to."""

    state: str            # inactive, pending, active, error, locked
    manager: bool         # this node can deploy stacks (ControlAvailable)
    node_id: str
    node_addr: str
    nodes: int
    error: str


def swarm_info() -> SwarmInfo:
    from python_on_whales.utils import run

    with docker_errors("read the swarm state (`docker info`)"):
        raw = json.loads(run(_client().docker_cmd + ["info", "--format", "{{json .Swarm}}"]) or "{}")
    return SwarmInfo(state=str(raw.get("LocalNodeState") or "inactive"), manager=bool(raw.get("ControlAvailable")),
                     node_id=str(raw.get("NodeID") or ""), node_addr=str(raw.get("NodeAddr") or ""),
                     nodes=int(raw.get("Nodes") or 0), error=str(raw.get("Error") or ""))


@dataclass(frozen=True)
class SwarmService:
    """One service of a stack, from `docker service inspect`."""

    id: str
    name: str                       # full name: <stack>_<service>
    mode: str                       # replicated, global, replicated-job, global-job
    replicas: int                   # desired replicas; for a replicated job its total completions
    image: str
    healthcheck: bool
    ports: tuple[str, ...]          # e.g. "*:18500->8080/tcp" (every interface: swarm cannot bind one)
    job_iteration: int | None = None
    update_state: str = ""          # updating, paused, completed, rollback_started, ... ("" before any update)
    update_message: str = ""

    @property
    def job(self) -> bool:
        return self.mode.endswith("-job")


@dataclass(frozen=True)
class SwarmTask:
    """One task (a container's life on a node), from `docker inspect` of the task."""

    id: str
    service_id: str
    slot: int
    node_id: str
    state: str                      # new, pending, assigned, preparing, starting, running, complete, failed, ...
    desired_state: str              # running, shutdown, complete, ...
    message: str
    error: str
    exit_code: int | None
    container_id: str
    timestamp: dt.datetime | None
    job_iteration: int | None = None


def _swarm_ports(raw: dict[str, Any]) -> tuple[str, ...]:
    endpoint = raw.get("Endpoint") or {}
    ports = endpoint.get("Ports") or (endpoint.get("Spec") or {}).get("Ports") or []
    return tuple(f"*:{p.get('PublishedPort')}->{p.get('TargetPort')}/{p.get('Protocol', 'tcp')}"
                 for p in ports if p.get("PublishedPort"))


def _swarm_service(raw: dict[str, Any]) -> SwarmService:
    spec = raw.get("Spec") or {}
    mode = spec.get("Mode") or {}
    if "ReplicatedJob" in mode:
        kind, replicas = "replicated-job", int(mode["ReplicatedJob"].get("TotalCompletions") or 1)
    elif "GlobalJob" in mode:
        kind, replicas = "global-job", 0
    elif "Global" in mode:
        kind, replicas = "global", 0
    else:
        kind, replicas = "replicated", int((mode.get("Replicated") or {}).get("Replicas") or 0)
    container = (spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}
    test = (container.get("Healthcheck") or {}).get("Test") or []
    iteration = ((raw.get("JobStatus") or {}).get("JobIteration") or {}).get("Index")
    return SwarmService(id=raw.get("ID", ""), name=spec.get("Name", ""), mode=kind, replicas=replicas,
                        image=str(container.get("Image", "")).split("@")[0],
                        healthcheck=bool(test) and test != ["NONE"],
                        ports=_swarm_ports(raw), job_iteration=None if kind == "replicated" else int(iteration or 0),
                        update_state=str((raw.get("UpdateStatus") or {}).get("State", "")),
                        update_message=str((raw.get("UpdateStatus") or {}).get("Message", "")))


def _swarm_task(raw: dict[str, Any]) -> SwarmTask:
    status = raw.get("Status") or {}
    container = status.get("ContainerStatus") or {}
    code = container.get("ExitCode")
    iteration = (raw.get("JobIteration") or {}).get("Index")
    return SwarmTask(id=raw.get("ID", ""), service_id=raw.get("ServiceID", ""), slot=int(raw.get("Slot") or 0),
                     node_id=raw.get("NodeID", ""), state=str(status.get("State", "unknown")),
                     desired_state=str(raw.get("DesiredState", "")), message=str(status.get("Message", "")),
                     error=str(status.get("Err", "")), exit_code=None if code is None else int(code),
                     container_id=str(container.get("ContainerID", "")),
                     timestamp=_parse_time(str(status.get("Timestamp", ""))),
                     job_iteration=None if iteration is None else int(iteration))


class SwarmStack:
    """One swarm stack: the verbs of `afc swarm`, over one python-on-whales client."""

    def __init__(self, name: str):
        self.name = name
        self.docker = _client()

    def _run(self, action: str, *args: str, input: bytes | None = None) -> str:
        from python_on_whales.utils import run

        with docker_errors(action):
            return run(self.docker.docker_cmd + list(args), input=input)

    def _inspect(self, action: str, ids: list[str], relist) -> list[dict[str, Any]]:
        """`docker inspect` of listed ids; an object removed between listing and inspecting lists again."""
        from python_on_whales.exceptions import DockerException
        from python_on_whales.utils import run

        with docker_errors(action):
            for attempt in range(3):
                if not ids:
                    return []
                try:
                    return json.loads(run(self.docker.docker_cmd + ["inspect", *ids]))
                except DockerException as error:
                    if "no such" not in (error.stderr or "").lower() or attempt == 2:
                        raise
                    ids = relist()
        return []

    # -- reading state --
    def services(self) -> list[SwarmService]:
        def listing() -> list[str]:
            return self._run("list the stack's services", "service", "ls", "--quiet",
                             "--filter", f"label={SWARM_STACK_LABEL}={self.name}").split()

        raw = self._inspect("inspect the stack's services", listing(), listing)
        return sorted((_swarm_service(item) for item in raw), key=lambda s: s.name)

    def tasks(self, services: list[SwarmService]) -> list[SwarmTask]:
        """Every task of these services still known to the swarm (current and recent history)."""
        from python_on_whales.exceptions import DockerException
        from python_on_whales.utils import run

        def listing() -> list[str]:
            if not services:
                return []
            try:
                return run(self.docker.docker_cmd + ["service", "ps", "--quiet", "--no-trunc",
                                                     *[s.id for s in services]]).split()
            except DockerException as error:  # a service removed meanwhile: read the ones left
                if "no such service" not in (error.stderr or "").lower():
                    raise
                alive = {s.id for s in self.services()}
                left = [s.id for s in services if s.id in alive]
                return run(self.docker.docker_cmd + ["service", "ps", "--quiet", "--no-trunc", *left]).split() \
                    if left else []

        with docker_errors("list the stack's tasks"):
            ids = listing()
        return [_swarm_task(item) for item in self._inspect("inspect the stack's tasks", ids, listing)]

    def containers(self, running: bool = False) -> list[str]:
        """Ids of this node's containers of the stack: all of them, or the running ones."""
        return self._run("list the stack's containers", "ps", "--quiet", *([] if running else ["--all"]),
                         "--filter", f"label={SWARM_STACK_LABEL}={self.name}").split()

    def remove_stopped_containers(self) -> int:
        """Remove this node's stopped containers of the stack: the engine keeps those of completed jobs (init)
        after their service is gone, and they would keep the stack's volumes in use."""
        ids = self._run("list the stack's stopped containers", "ps", "--all", "--quiet",
                        "--filter", f"label={SWARM_STACK_LABEL}={self.name}", "--filter", "status=exited",
                        "--filter", "status=created", "--filter", "status=dead").split()
        if ids:
            self._run("remove the stack's stopped containers", "container", "rm", *ids)
        return len(ids)

    def networks(self) -> list[str]:
        return self._run("list the stack's networks", "network", "ls", "--quiet",
                         "--filter", f"label={SWARM_STACK_LABEL}={self.name}").split()

    def logs_text(self, service: str, tail: int = 25) -> str:
        """The last lines of a service's logs (every task, stdout and stderr)."""
        from python_on_whales.exceptions import DockerException
        from python_on_whales.utils import run

        try:
            out, err = run(self.docker.docker_cmd + ["service", "logs", "--no-task-ids", "--no-trunc",
                                                     "--tail", str(tail), f"{self.name}_{service}"],
                           return_stderr=True)
        except DockerException as error:
            return f"(no logs: {_last_line(error.stderr) or error.return_code})"
        return "\n".join(part for part in (out, err) if part)

    def log_command(self, service: str, *args: str) -> list[str]:
        """The `docker service logs` command of one service, for a caller that attaches a terminal."""
        return list(self.docker.docker_cmd) + ["service", "logs", *args, f"{self.name}_{service}"]

    # -- changing state --
    def deploy(self, compose_file: str, registry_auth: bool = False) -> str:
        """`docker stack deploy` of one stack file. Images are not resolved against a registry (a single node has
        none): each node runs the tag as it holds it or pulls it; `registry_auth` sends the CLI's registry login
        along, for private registries."""
        return self._run(f"deploy the stack {self.name}", "stack", "deploy", "--compose-file", compose_file,
                         "--resolve-image", "never", *(["--with-registry-auth"] if registry_auth else []), self.name)

    def remove(self) -> None:
        self._run(f"remove the stack {self.name}", "stack", "rm", self.name)

    def scale(self, service: str, replicas: int) -> None:
        with docker_errors(f"scale {service}"):
            self.docker.service.scale({f"{self.name}_{service}": replicas}, detach=True)

    # -- secrets and volumes --
    def secrets(self) -> list[str]:
        """Names of the Docker secrets afc created for this stack."""
        ids = self._run("list the stack's secrets", "secret", "ls", "--quiet",
                        "--filter", f"label={SECRET_STACK_LABEL}={self.name}").split()
        if not ids:
            return []
        raw = json.loads(self._run("inspect the stack's secrets", "secret", "inspect", *ids))
        return sorted(item["Spec"]["Name"] for item in raw)

    def secret_label_values(self, label: str) -> list[str]:
        """The values of one label on the Docker secrets afc created for this stack."""
        ids = self._run("list the stack's secrets", "secret", "ls", "--quiet",
                        "--filter", f"label={SECRET_STACK_LABEL}={self.name}").split()
        if not ids:
            return []
        raw = json.loads(self._run("inspect the stack's secrets", "secret", "inspect", *ids))
        return sorted({(item["Spec"].get("Labels") or {}).get(label, "") for item in raw} - {""})

    def create_secret(self, name: str, value: str, labels: dict[str, str]) -> None:
        """A Docker secret from a value handed over on stdin: it is never written to a file or argument."""
        args = ["secret", "create"]
        for key, label in {SECRET_STACK_LABEL: self.name, **labels}.items():
            args += ["--label", f"{key}={label}"]
        self._run(f"create the Docker secret {name}", *args, name, "-", input=value.encode())

    def remove_secret(self, name: str) -> bool:
        """Remove a secret; False when a service still uses it."""
        from python_on_whales.exceptions import DockerException
        from python_on_whales.utils import run

        try:
            run(self.docker.docker_cmd + ["secret", "rm", name])
            return True
        except DockerException as error:
            if "in use" in (error.stderr or "").lower() or "no such secret" in (error.stderr or "").lower():
                return False
            raise classify(f"remove the Docker secret {name}", error.stderr or "", error.return_code) from None

    def volumes(self) -> list[str]:
        return sorted(self._run("list the stack's volumes", "volume", "ls", "--quiet",
                                "--filter", f"label={SWARM_STACK_LABEL}={self.name}").split())

    def remove_volume(self, name: str) -> bool:
        """Remove a volume of this node; False while a container still uses it."""
        from python_on_whales.exceptions import DockerException
        from python_on_whales.utils import run

        try:
            run(self.docker.docker_cmd + ["volume", "rm", name])
            return True
        except DockerException as error:
            if "in use" in (error.stderr or "").lower():
                return False
            raise classify(f"remove the volume {name}", error.stderr or "", error.return_code) from None


# --- the DAG author's loop: a command's output line by line ---------------------------------------------

def stream_lines(argv: list[str], on_line: Callable[[str], None] | None = None,
                 input_text: str | None = None) -> tuple[int, list[str]]:
    """Run a docker command built by python-on-whales, stdout and stderr merged, each line handed to `on_line`
    as it comes and kept; `input_text` is its stdin (never an argument: it may hold secrets). On Ctrl-C stop
    it and wait, so no docker process is left behind."""
    try:
        child = subprocess.Popen(argv, stdin=subprocess.DEVNULL if input_text is None else subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
                                 bufsize=1)
    except FileNotFoundError:
        raise EnvironmentProblem("the docker command is not installed (or not on PATH)",
                                 hint="install Docker Engine or Docker Desktop")
    lines: list[str] = []
    try:
        assert child.stdout is not None
        if input_text is not None:
            assert child.stdin is not None
            child.stdin.write(input_text)
            child.stdin.close()
        for line in child.stdout:
            line = line.rstrip("\n")
            lines.append(line)
            if on_line is not None:
                on_line(line)
        child.wait()
    except BaseException:
        child.terminate()
        try:
            child.wait(timeout=5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        raise
    if child.returncode != 0:
        problem = classify("run a command in the stack", "\n".join(lines[-5:]), child.returncode)
        if isinstance(problem, EnvironmentProblem):
            raise problem
    return child.returncode, lines


def oneoff_command(stack: Stack, service: str, command: list[str], env: dict[str, str] | None = None,
                   volumes: list[tuple[str, str, str]] | None = None, workdir: str = "") -> list[str]:
    """`docker compose run --rm --no-deps -T` of a service's configuration (its image, mounts and environment):
    a one-off container that needs nothing else of the stack running."""
    args = ["run", "--rm", "--no-deps", "-T"]
    for key, value in (env or {}).items():
        args += ["-e", f"{key}={value}"]
    for source, target, mode in volumes or []:
        args += ["-v", f"{source}:{target}:{mode}"]
    if workdir:
        args += ["-w", workdir]
    return stack.compose_command(*args, service, *command)


def _project_networks(name: str) -> set[str]:
    from python_on_whales.utils import run

    docker = _client()
    with docker_errors(f"list the networks of the compose project '{name}'"):
        return set(run(docker.docker_cmd + ["network", "ls", "--quiet", "--filter",
                                            f"label={PROJECT_LABEL}={name}"]).split())


@contextlib.contextmanager
def oneoff_leaves_nothing(stack: Stack) -> Iterator[None]:
    """Around a one-off `compose run` of a project that has no containers: afterwards remove the network and the
    (empty) volumes compose created for it, so checking a never-started project leaves nothing behind."""
    from python_on_whales.utils import run

    before = stack_claim(stack.name)
    networks = _project_networks(stack.name) if not before.working_dirs else set()
    try:
        yield
    finally:
        after = stack_claim(stack.name) if not before.working_dirs else before
        if not after.working_dirs:
            docker = _client()
            new_volumes = sorted(set(after.volumes) - set(before.volumes))
            new_networks = sorted(_project_networks(stack.name) - networks)
            with docker_errors(f"remove what a one-off container of '{stack.name}' left"):
                if new_networks:
                    run(docker.docker_cmd + ["network", "rm", *new_networks])
                if new_volumes:
                    run(docker.docker_cmd + ["volume", "rm", *new_volumes])


def exec_command(stack: Stack, service: str, command: list[str], env: dict[str, str] | None = None) -> list[str]:
    """`docker compose exec -T` in a service's running container."""
    args = ["exec", "-T"]
    for key, value in (env or {}).items():
        args += ["-e", f"{key}={value}"]
    return stack.compose_command(*args, service, *command)


# --- afc ls and busy ports: containers of any project --------------------------------------------------------

def _summaries(ids: list[str]) -> list[dict[str, Any]]:
    """Plain facts of containers (name, labels, state, health, image, AIRFLOW_VERSION, published ports)."""
    from python_on_whales.exceptions import DockerException
    from python_on_whales.utils import run

    if not ids:
        return []
    try:
        raw = json.loads(run(_client().docker_cmd + ["inspect", *ids]))
    except DockerException as error:  # one was removed meanwhile: inspect the ones left
        if "no such object" not in (error.stderr or "").lower():
            raise
        raw = []
        for one in ids:
            try:
                raw += json.loads(run(_client().docker_cmd + ["inspect", one]))
            except DockerException:
                continue
    found = []
    for item in raw:
        config = item.get("Config") or {}
        env = dict(entry.split("=", 1) for entry in config.get("Env") or [] if "=" in entry)
        state = item.get("State") or {}
        ports = [(binding.get("HostIp") or "", binding.get("HostPort") or "")
                 for bindings in ((item.get("NetworkSettings") or {}).get("Ports") or {}).values()
                 for binding in bindings or []]
        found.append({"name": item.get("Name", "").lstrip("/"), "labels": config.get("Labels") or {},
                      "state": state.get("Status", ""), "health": (state.get("Health") or {}).get("Status", ""),
                      "image": config.get("Image", ""), "airflow_version": env.get("AIRFLOW_VERSION", ""),
                      "ports": ports})
    return found


def compose_containers() -> list[dict[str, Any]]:
    """Every compose-made container on the engine (running or not)."""
    from python_on_whales.utils import run

    with docker_errors("list the engine's containers"):
        ids = run(_client().docker_cmd + ["ps", "--all", "--quiet", "--no-trunc",
                                          "--filter", "label=com.docker.compose.project"]).split()
        return _summaries(ids)


def containers_publishing(port: int) -> list[dict[str, Any]]:
    """The running containers that publish a host port."""
    from python_on_whales.utils import run

    with docker_errors("list the containers publishing a port"):
        ids = run(_client().docker_cmd + ["ps", "--quiet", "--no-trunc", "--filter", f"publish={port}"]).split()
        return [c for c in _summaries(ids) if any(p == str(port) for _host, p in c["ports"])]
