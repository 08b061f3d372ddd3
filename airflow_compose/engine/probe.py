"""The engine and the CLI: versions, API level, arch and resources, the endpoint, the compose plugin."""
from __future__ import annotations

import functools
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import AfcError, EnvironmentProblem
from ..stack.spec import EngineFacts, host_facts
from .client import client
from .errors import docker_errors

if TYPE_CHECKING:
    from python_on_whales import DockerClient


START_INTERVAL_API = (1, 44)


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


class Probe:
    """What one command learns about the engine and the CLI, each question asked at most once and only when a
    step needs the answer. A command makes one and hands it down (a cache of the process would outlive it)."""

    @functools.cached_property
    def _version(self) -> tuple[Any, AfcError | None]:
        try:
            return _answered_version(client()), None
        except AfcError as error:
            return None, error

    @property
    def error(self) -> AfcError | None:
        """Why the engine did not answer `docker version` (None: it answered)."""
        return self._version[1]

    @functools.cached_property
    def facts(self) -> EngineFacts:
        """Facts for rendering: the engine's arch and start_interval support, or this host's when it is down."""
        version, error = self._version
        if error is not None:
            return host_facts()
        return EngineFacts(arch=str(version.server.arch),
                           start_interval=api_tuple(str(version.server.api_version)) >= START_INTERVAL_API)

    @functools.cached_property
    def details(self) -> EngineDetails:
        """Versions, arch and resources of the engine; raises afc's classified error when it cannot be reached."""
        version, error = self._version
        if error is not None:
            raise error
        docker = client()
        with docker_errors("read `docker info`"):
            info = docker.system.info()
        return EngineDetails(
            client_version=str(version.client.version or ""), server_version=str(version.server.version or ""),
            api_version=str(version.server.api_version or ""), arch=str(version.server.arch or ""),
            os_type=str(info.os_type or version.server.os or ""), operating_system=str(info.operating_system or ""),
            mem_total=int(info.mem_total or 0), ncpu=int(info.n_cpu or 0),
            docker_root_dir=str(info.docker_root_dir or ""), endpoint=self.endpoint)

    @functools.cached_property
    def endpoint(self) -> str:
        return docker_endpoint()

    @functools.cached_property
    def compose_version(self) -> str:
        return compose_version()


def compose_version() -> str:
    """The compose plugin's version, or "" when `docker compose` is missing."""
    docker = client()
    try:
        return str(docker.compose.version()).split()[-1].lstrip("v")
    except Exception:  # is_installed()/version() raise differently across CLIs
        return ""


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
        context = client().context.inspect()
        endpoint = context.endpoints.get("docker")
        return str(endpoint.host) if endpoint is not None and endpoint.host else ""
    except Exception:  # no CLI, a broken context: the engine check reports the real problem
        return ""


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
