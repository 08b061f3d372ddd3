"""One compose project: its containers' state, its verbs (up, down, rm, stop, logs), one-off and exec
commands, and bytes streamed through them."""
from __future__ import annotations

import contextlib
import datetime as dt
import re
import subprocess
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator

from ..errors import EnvironmentProblem, StackError
from .client import client, parse_time, run_compose
from .containers import PROJECT_LABEL, inspect_listed, stack_claim
from .errors import classify, compose_missing, docker_errors
from .probe import compose_version
from .process import run_child
from .volumes import PG_DATA_PROBE, PostgresData, parse_postgres_data

if TYPE_CHECKING:

    from ..project.files import Project


HEAL_MARK = "afc-heal:"  # the line a service's health check logs before it kills the service (compose/stack.yaml)


def validate_compose_files(files: list[str], project_dir: str) -> None:
    """Ask the real compose plugin to validate the project's files (`docker compose config`)."""
    docker = client(compose_files=files, compose_project_directory=project_dir)
    if not compose_version():
        raise compose_missing()
    with docker_errors(f"validate {' + '.join(files)}"):
        docker.compose.config(return_json=True)


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
    health_test: tuple[str, ...] = field(default=(), compare=False)  # its check, as Docker runs it (CMD, …)
    health_start_interval: bool = False  # its check has a start_interval: Docker probes it often while starting

    @property
    def ready(self) -> bool:
        if self.service == "init":
            return self.state == "exited" and self.exit_code == 0
        return self.state == "running" and self.health in ("healthy", "")

    def uptime(self, now: dt.datetime) -> float | None:
        if self.state != "running" or self.started_at is None:
            return None
        return max(0.0, (now - self.started_at).total_seconds())


def _container_state(raw: dict[str, Any]) -> ContainerState:
    labels = raw.get("Config", {}).get("Labels") or {}
    state = raw.get("State", {})
    health = state.get("Health") or {}
    ports = []
    for container_port, bindings in sorted((raw.get("NetworkSettings", {}).get("Ports") or {}).items()):
        for binding in bindings or []:
            ports.append(f"{binding.get('HostIp') or '0.0.0.0'}:{binding.get('HostPort')}->{container_port}")
    log = tuple((entry.get("Output") or "").strip() for entry in (health.get("Log") or []))
    check = (raw.get("Config") or {}).get("Healthcheck") or {}
    return ContainerState(
        service=labels.get("com.docker.compose.service", "?"),
        name=raw.get("Name", "").lstrip("/"),
        number=int(labels.get("com.docker.compose.container-number", "1") or 1),
        state=state.get("Status", "unknown"),
        health=health.get("Status", ""),
        exit_code=int(state.get("ExitCode") or 0),
        restarts=int(raw.get("RestartCount") or 0),
        started_at=parse_time(state.get("StartedAt", "")),
        ports=tuple(ports),
        health_log=log,
        config_hash=labels.get("com.docker.compose.config-hash", ""),
        oom_killed=bool(state.get("OOMKilled")),
        finished_at=parse_time(state.get("FinishedAt", "")),
        image=(raw.get("Config") or {}).get("Image", ""),
        health_test=tuple(check.get("Test") or ()),
        health_start_interval=bool(check.get("StartInterval")),
    )


class Stack:
    """One compose project: the verbs afc's commands use, over one python-on-whales client."""

    def __init__(self, project: "Project", project_name: str):
        self.project = project
        self.name = project_name
        self.docker = client(compose_files=[str(p) for p in project.compose_files],
                              compose_project_directory=str(project.root), compose_project_name=project_name)

    # -- reading state --
    def containers(self) -> list[ContainerState]:
        """Every container of the project (running or not), via `docker ps` + one `docker inspect`."""
        with docker_errors("list the stack's containers"):
            raw = inspect_listed(self.docker, f"label={PROJECT_LABEL}={self.name}")
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

    def passes_health_check(self, container: ContainerState) -> bool:
        """Run the container's own health check in it now, as Docker would (`docker exec` as its user): True
        when it exits 0."""
        from python_on_whales.exceptions import DockerException

        kind, *args = container.health_test or ("NONE",)
        if kind not in ("CMD", "CMD-SHELL") or not args:
            return False
        try:
            self.docker.container.execute(container.name, ["/bin/sh", "-c", args[0]] if kind == "CMD-SHELL" else args)
            return True
        except DockerException:  # the check failed (or the container went): not healthy yet
            return False

    def config_hashes(self) -> dict[str, str]:
        """Compose's own hash of each service's configuration (what it compares to decide to recreate)."""
        with docker_errors("read the compose configuration"):  # python-on-whales has no `config --hash`
            output = run_compose(self.docker, "config", "--hash", "*")
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
        with docker_errors("inspect the stack's containers"):
            raw = inspect_listed(self.docker, f"label={PROJECT_LABEL}={self.name}")
        if not raw:
            return []
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
            output = self.docker.run(image, ["-c", PG_DATA_PROBE], entrypoint="sh", remove=True,
                                     volumes=[(volume, "/v", "ro")], user="0")
        return parse_postgres_data(volume, str(output))

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
    with docker_errors(f"list the networks of the compose project '{name}'"):
        return {network.id for network in client().network.list(filters={"label": f"{PROJECT_LABEL}={name}"})}


@contextlib.contextmanager
def oneoff_leaves_nothing(stack: Stack) -> Iterator[None]:
    """Around a one-off `compose run` of a project that has no containers: afterwards remove the network and the
    (empty) volumes compose created for it, so checking a never-started project leaves nothing behind."""
    before = stack_claim(stack.name)
    networks = _project_networks(stack.name) if not before.working_dirs else set()
    try:
        yield
    finally:
        after = stack_claim(stack.name) if not before.working_dirs else before
        if not after.working_dirs:
            docker = client()
            new_volumes = sorted(set(after.volumes) - set(before.volumes))
            new_networks = sorted(_project_networks(stack.name) - networks)
            with docker_errors(f"remove what a one-off container of '{stack.name}' left"):
                if new_networks:
                    docker.network.remove(new_networks)
                if new_volumes:
                    docker.volume.remove(new_volumes)


def exec_command(stack: Stack, service: str, command: list[str], env: dict[str, str] | None = None) -> list[str]:
    """`docker compose exec -T` in a service's running container."""
    args = ["exec", "-T"]
    for key, value in (env or {}).items():
        args += ["-e", f"{key}={value}"]
    return stack.compose_command(*args, service, *command)
