"""Services some tests need beside the machine's engine, started by their scripts: a registry on 127.0.0.1
(scripts/registry) and a second, current Docker engine (scripts/engine2). `make test` starts both before the
tiers and stops them after; a test run alone starts what is missing and stops only what it started."""
from __future__ import annotations

import contextlib
import os
import socket
import subprocess
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[1]
ENGINE2_HOST = "unix:///run/afc-engine2/docker.sock"


def _script(name: str, action: str, env: dict | None = None) -> str:
    done = subprocess.run(["bash", str(ROOT / "scripts" / name), action], capture_output=True, text=True,
                          timeout=1200, env={**os.environ, **(env or {})})
    if done.returncode != 0:
        raise AssertionError(f"scripts/{name} {action} failed:\n{done.stderr}")
    return done.stdout


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def registry() -> Iterator[tuple[str, str]]:
    """(open registry, registry that needs a login), e.g. ("localhost:5055", "localhost:5056")."""
    running = _listening(int(os.environ.get("AFC_REGISTRY_PORT", "5055")))
    open_address, auth_address = _script("registry", "start").split()[:2]
    try:
        yield open_address, auth_address
    finally:
        if not running:
            _script("registry", "stop")


def engine2_running() -> bool:
    return subprocess.run(["docker", "-H", ENGINE2_HOST, "version"], capture_output=True).returncode == 0


@contextlib.contextmanager
def engine2(images: str | None = None) -> Iterator[str]:
    """The DOCKER_HOST of engine 2 (Debian trixie's 26.1.5), with these stand-in images loaded (the script's
    default list when None)."""
    running = engine2_running()
    env = {} if images is None else {"AFC_ENGINE2_IMAGES": images}
    host = _script("engine2", "start", env).strip().splitlines()[-1]
    try:
        yield host
    finally:
        if not running:
            _script("engine2", "stop")
