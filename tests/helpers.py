"""Running the real `afc` command line from tests."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

STANDIN = {
    "postgres": "afc-standin/postgres:16",
    "redis": "afc-standin/redis:7.2",
}


def standin_flags(version: str) -> list[str]:
    return ["--image", f"afc-standin/airflow:{version}-python3.11", "--postgres-image", STANDIN["postgres"],
            "--redis-image", STANDIN["redis"]]


def afc(*args: str, project: Path | None = None, timeout: float = 600, env: dict | None = None,
        check: bool = False) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AFC_")}
    environ.update(NO_COLOR="1", **(env or {}))
    command = [sys.executable, "-m", "airflow_compose"]
    if project is not None:
        command += ["--project-dir", str(project)]
    done = subprocess.run(command + list(args), capture_output=True, text=True, timeout=timeout, env=environ)
    if check and done.returncode != 0:
        raise AssertionError(f"afc {' '.join(args)} exited {done.returncode}\nstdout:\n{done.stdout}\n"
                             f"stderr:\n{done.stderr}")
    return done


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=300)
    if check and done.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {done.stderr}")
    return done


def wait_for(what: str, probe, timeout: float = 180, every: float = 3):
    """Call probe() until it returns something truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def status_json(project: Path) -> dict:
    return json.loads(afc("status", "--json", project=project, check=True).stdout)


class FakeClock:
    """A monotonic clock and sleep for pure waiting loops: sleeping only moves the time on."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
