"""Containers of any project: which folder a compose project name belongs to, afc ls, busy ports."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .client import client, inspect_json, run_docker
from .errors import docker_errors, gone

if TYPE_CHECKING:
    from python_on_whales import DockerClient


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
    docker = client()
    # one formatted `ps` and one `volume ls`: python-on-whales' listings inspect every object into models
    with docker_errors(f"check which folder owns the compose project '{name}'"):
        listing = run_docker(docker, "ps", "--all", "--filter", f"label={PROJECT_LABEL}={name}",
                             "--format", f'{{{{.Label "{WORKING_DIR_LABEL}"}}}}')
        volumes = run_docker(docker, "volume", "ls", "--quiet", "--filter",
                             f"label={PROJECT_LABEL}={name}") if with_volumes else ""
    dirs = tuple(sorted({line.strip() for line in listing.splitlines() if line.strip()}))
    return StackClaim(name, dirs, tuple(sorted(volumes.split())))


def inspect_listed(docker: "DockerClient", *filters: str, running_only: bool = False) -> list[dict[str, Any]]:
    """The engine's JSON of the containers `docker ps --filter …` lists: one `ps` and one `inspect` (the
    python-on-whales models of a container cost more than the answer). A container removed between the two
    (compose recreating it) makes the pair run again."""
    from python_on_whales.exceptions import DockerException

    args = ["ps", "--quiet", "--no-trunc", *([] if running_only else ["--all"])]
    for flt in filters:
        args += ["--filter", flt]
    for attempt in range(3):
        try:
            return inspect_json(docker, run_docker(docker, *args).split())
        except DockerException as error:
            if not gone(error) or attempt == 2:
                raise
    return []


def _summaries(raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Plain facts of containers (name, labels, state, health, image, AIRFLOW_VERSION, published ports)."""
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
    with docker_errors("list the engine's containers"):
        return _summaries(inspect_listed(client(), f"label={PROJECT_LABEL}"))


def containers_publishing(port: int) -> list[dict[str, Any]]:
    """The running containers that publish a host port."""
    with docker_errors("list the containers publishing a port"):
        raw = inspect_listed(client(), f"publish={port}", running_only=True)
    return [c for c in _summaries(raw) if any(p == str(port) for _host, p in c["ports"])]
