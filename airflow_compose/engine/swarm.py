"""Docker Swarm: the engine's swarm state, one stack's services, tasks, secrets and volumes."""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from ..errors import AfcError
from .client import client, inspect_json, parse_time, run_docker
from .errors import being_removed, classify, docker_errors, gone, in_use, last_line, said

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
    with docker_errors("read the swarm state (`docker info`)"):  # only its Swarm part, without the models
        raw = json.loads(run_docker(client(), "info", "--format", "{{json .Swarm}}") or "{}")
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
                     timestamp=parse_time(str(status.get("Timestamp", ""))),
                     job_iteration=None if iteration is None else int(iteration))


class SwarmStack:
    """One swarm stack: the verbs of `afc swarm`, over one python-on-whales client."""

    def __init__(self, name: str):
        self.name = name
        self.docker = client()

    def _run(self, action: str, *args: str, input: bytes | None = None) -> str:
        with docker_errors(action):
            return run_docker(self.docker, *args, input=input)

    def _inspect(self, action: str, ids: list[str], relist) -> list[dict[str, Any]]:
        """`docker inspect` of listed ids; an object removed between listing and inspecting lists again."""
        from python_on_whales.exceptions import DockerException

        with docker_errors(action):
            for attempt in range(3):
                if not ids:
                    return []
                try:
                    return inspect_json(self.docker, ids)
                except DockerException as error:
                    if not gone(error) or attempt == 2:
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

        def listing() -> list[str]:
            if not services:
                return []
            try:
                return run_docker(self.docker, "service", "ps", "--quiet", "--no-trunc",
                                  *[s.id for s in services]).split()
            except DockerException as error:  # a service removed meanwhile: read the ones left
                if not gone(error):
                    raise
                alive = {s.id for s in self.services()}
                left = [s.id for s in services if s.id in alive]
                return run_docker(self.docker, "service", "ps", "--quiet", "--no-trunc", *left).split() \
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
        for container in ids:  # one by one: Swarm reaps its tasks' containers meanwhile
            self._remove_container(container)
        return len(ids)

    def _remove_container(self, container: str) -> None:
        """Remove one container; one the engine has removed or is removing (Swarm's own reaping) counts as removed."""
        from python_on_whales.exceptions import DockerException

        try:
            self.docker.container.remove(container)
        except DockerException as error:
            if not (gone(error) or being_removed(error)):
                raise classify("remove the stack's stopped containers", said(error), error.return_code) from None

    def networks(self) -> list[str]:
        return self._run("list the stack's networks", "network", "ls", "--quiet",
                         "--filter", f"label={SWARM_STACK_LABEL}={self.name}").split()

    def logs_text(self, service: str, tail: int = 25) -> str:
        """The last lines of a service's logs (every task, stdout and stderr)."""
        try:  # python-on-whales' service.logs has no --no-task-ids
            with docker_errors(f"read the logs of {service}"):
                return run_docker(self.docker, "service", "logs", "--no-task-ids", "--no-trunc", "--tail", str(tail),
                                  f"{self.name}_{service}", stderr_too=True)
        except AfcError as error:  # the logs are a courtesy beside a failure report
            return f"(no logs: {last_line(error.details) or error.message})"

    def deploy(self, compose_file: str, registry_auth: bool = False) -> str:
        """`docker stack deploy` of one stack file. Images are not resolved against a registry (a single node has
        none): each node runs the tag as it holds it or pulls it; `registry_auth` sends the CLI's registry login
        along, for private registries. (python-on-whales' stack.deploy would let the CLI print on our stdout.)"""
        return self._run(f"deploy the stack {self.name}", "stack", "deploy", "--compose-file", compose_file,
                         "--resolve-image", "never", *(["--with-registry-auth"] if registry_auth else []), self.name)

    def remove(self) -> None:
        with docker_errors(f"remove the stack {self.name}"):
            self.docker.stack.remove(self.name)

    def scale(self, service: str, replicas: int) -> None:
        with docker_errors(f"scale {service}"):
            self.docker.service.scale({f"{self.name}_{service}": replicas}, detach=True)

    # -- secrets and volumes --
    def _secret_specs(self) -> list[dict[str, Any]]:
        """The specs of the Docker secrets afc created for this stack (one `ls`, one `inspect` of them all)."""
        ids = self._run("list the stack's secrets", "secret", "ls", "--quiet",
                        "--filter", f"label={SECRET_STACK_LABEL}={self.name}").split()
        if not ids:
            return []
        return [item["Spec"] for item in json.loads(self._run("inspect the stack's secrets", "secret", "inspect", *ids))]

    def secrets(self) -> list[str]:
        """Names of the Docker secrets afc created for this stack."""
        return sorted(spec["Name"] for spec in self._secret_specs())

    def secret_label_values(self, label: str) -> list[str]:
        """The values of one label on the Docker secrets afc created for this stack."""
        return sorted({(spec.get("Labels") or {}).get(label, "") for spec in self._secret_specs()} - {""})

    def create_secret(self, name: str, value: str, labels: dict[str, str]) -> None:
        """A Docker secret from a value handed over on stdin: it is never written to a file or argument."""
        args = ["secret", "create"]
        for key, label in {SECRET_STACK_LABEL: self.name, **labels}.items():
            args += ["--label", f"{key}={label}"]
        self._run(f"create the Docker secret {name}", *args, name, "-", input=value.encode())

    def remove_secret(self, name: str) -> bool:
        """Remove a secret; False when a service still uses it."""
        from python_on_whales.exceptions import DockerException

        try:
            self.docker.secret.remove(name)
            return True
        except DockerException as error:
            if in_use(error) or gone(error):
                return False
            raise classify(f"remove the Docker secret {name}", said(error), error.return_code) from None

    def volumes(self) -> list[str]:
        return sorted(self._run("list the stack's volumes", "volume", "ls", "--quiet",
                                "--filter", f"label={SWARM_STACK_LABEL}={self.name}").split())

    def remove_volume(self, name: str) -> bool:
        """Remove a volume of this node; False while a container still uses it."""
        from python_on_whales.exceptions import DockerException

        try:
            self.docker.volume.remove(name)
            return True
        except DockerException as error:
            if in_use(error):
                return False
            raise classify(f"remove the volume {name}", said(error), error.return_code) from None
