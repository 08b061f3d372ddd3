"""The one way afc reaches Docker: a python-on-whales client, and its runner for the few calls it has no
method for, or whose models would cost more than the answer (each caller says which)."""
from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from python_on_whales import DockerClient


def client(**kwargs: Any) -> "DockerClient":
    from python_on_whales import DockerClient

    return DockerClient(client_type="docker", **kwargs)


def run_docker(docker: "DockerClient", *args: str, input: bytes | None = None, stderr_too: bool = False) -> str:
    """`docker ARGS` through python-on-whales' runner (its errors are its exceptions; callers wrap them in
    `errors.docker_errors`); `stderr_too` appends what the command printed on stderr."""
    from python_on_whales.utils import run

    if stderr_too:
        out, err = run(docker.docker_cmd + list(args), input=input, return_stderr=True)
        return "\n".join(part for part in (out, err) if part)
    return run(docker.docker_cmd + list(args), input=input)


def run_compose(docker: "DockerClient", *args: str) -> str:
    """`docker compose ARGS` for the client's project, through python-on-whales' runner."""
    from python_on_whales.utils import run

    return run(docker.docker_compose_cmd + list(args))


def inspect_json(docker: "DockerClient", ids: list[str]) -> list[dict[str, Any]]:
    """One `docker inspect` of many objects: one process, and the engine's JSON as it is (no models)."""
    return json.loads(run_docker(docker, "inspect", *ids)) if ids else []


def parse_time(text: str) -> dt.datetime | None:
    """A timestamp as Docker writes it (nanoseconds, `Z`); None for Docker's zero time."""
    if not text or text.startswith("0001-"):
        return None
    text = text.rstrip("Z")
    main, _, frac = text.partition(".")
    try:
        return dt.datetime.fromisoformat(main + ("." + frac[:6] if frac else "")).replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return None
