"""The one place that reads Docker's errors: python-on-whales' exceptions and Docker's own messages become
afc's errors (environment problems, exit 4; stack errors, exit 5), and the few refusals callers handle
(an object gone, or in use) are named here."""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

from ..errors import EnvironmentProblem, StackError


def last_line(text: str | None) -> str:
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


@contextlib.contextmanager
def docker_errors(action: str) -> Iterator[None]:
    """Turn python-on-whales' exceptions into afc's errors, keeping Docker's own message."""
    from python_on_whales.client_config import ClientNotFoundError
    from python_on_whales.exceptions import DockerException

    try:
        yield
    except ClientNotFoundError:
        raise EnvironmentProblem("the docker command is not installed (or not on PATH)",
                                 hint="install Docker Engine or Docker Desktop: https://docs.docker.com/get-docker/")
    except DockerException as error:
        raise classify(action, said(error), error.return_code) from None


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
    return StackError(f"cannot {action}: {last_line(message) or f'docker exited with {code}'}", details=message)


# What registries answer when an image cannot be had, as the engine passes it on (distribution, Docker Hub).
_MISSING = ("manifest unknown", "name unknown", "not found: manifest")
_REFUSED = ("no basic auth credentials", "unauthorized", "authentication required", "pull access denied",
            "requested access to the resource is denied", "denied:")
_UNREACHABLE = ("dial tcp", "no such host", "i/o timeout", "connection refused", "tls handshake", "x509:",
                "server gave http response to https client", "context deadline exceeded")


def _registry_problem(action: str, message: str) -> EnvironmentProblem | None:
    """A registry's refusal (missing tag or repository, refused login, unreachable) in its own words; exit 4."""
    lower = message.lower()
    words = last_line(message).removeprefix("Error response from daemon: ")
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


def said(error: Any) -> str:
    """What Docker printed with a failed call (stderr, else stdout), as python-on-whales kept it."""
    return ((getattr(error, "stderr", "") or getattr(error, "stdout", "") or "")).strip()


def gone(error: Any) -> bool:
    """The object named was not there (removed meanwhile, or never created): `No such …`."""
    return "no such" in said(error).lower()


def being_removed(error: Any) -> bool:
    """The engine is already removing this container: `removal of container … is already in progress`."""
    return "already in progress" in said(error).lower()


def in_use(error: Any) -> bool:
    """The engine refused to remove an object something still uses."""
    return "in use" in said(error).lower()


def step_failed(message: str) -> bool:
    """A build's RUN step exited non-zero (the builder's words, colour codes removed)."""
    return "returned a non-zero code" in message
