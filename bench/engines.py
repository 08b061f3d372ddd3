"""The engines a bench run measures on: the machine's own, and engine 2 (scripts/engine2: Debian trixie's
Docker 26.1.5, a current engine beside the machine's 20.10), so that both appear side by side in one report."""
from __future__ import annotations

import contextlib
import os
import subprocess
from typing import Iterator

from .core import ENV, ROOT, log

ENGINES = ("machine", "engine2")
# what the stack rows start; engine 2 gets them copied from the machine's engine when missing
ENGINE2_IMAGES = ("afc-standin/airflow:2.10.4-python3.11 afc-standin/airflow:3.3.2-python3.11 "
                  "afc-standin/postgres:16 afc-standin/redis:7.2")


def _engine2(action: str) -> str:
    done = subprocess.run(["bash", str(ROOT / "scripts" / "engine2"), action], capture_output=True, text=True,
                          timeout=1800, env={**os.environ, "AFC_ENGINE2_IMAGES": ENGINE2_IMAGES})
    if done.returncode != 0:
        raise RuntimeError(f"scripts/engine2 {action} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def _set_host(host: str | None) -> None:
    for env in (ENV, os.environ):
        if host is None:
            env.pop("DOCKER_HOST", None)
        else:
            env["DOCKER_HOST"] = host


@contextlib.contextmanager
def on_engine(name: str) -> Iterator[str]:
    """Point every command of the run at this engine while inside; yields its label, e.g. "Engine 26.1.5".
    Engine 2 is started when it is not running, and then stopped again at the end."""
    before = os.environ.get("DOCKER_HOST")
    started = False
    if name == "engine2":
        running = subprocess.run(["docker", "-H", "unix:///run/afc-engine2/docker.sock", "version"],
                                 capture_output=True).returncode == 0
        log("engine 2: starting it and loading the stand-in images" if not running else "engine 2: running")
        host = _engine2("start").strip().splitlines()[-1]
        started = not running
    else:
        host = before
    _set_host(host)
    try:
        version = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True,
                                 text=True).stdout.strip() or "unknown"
        yield f"Engine {version}"
    finally:
        _set_host(before)
        if started:
            _engine2("stop")
