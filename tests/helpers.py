"""Shared test helpers: the `afc` command line (in this process or as a real process), test data, settings."""
from __future__ import annotations

import contextlib
import functools
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from unittest import mock

import typer.main
from typer.main import get_command as typer_click_command

DATA = Path(__file__).resolve().parent / "data"
NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}
VERSIONS = {"2.10.4": "apache/airflow:2.10.4-python3.12", "3.3.2": "apache/airflow:3.3.2-python3.12"}
STANDIN = {
    "postgres": "afc-standin/postgres:16",
    "redis": "afc-standin/redis:7.2",
}


def standin_flags(version: str) -> list[str]:
    return ["--image", f"afc-standin/airflow:{version}-python3.11", "--postgres-image", STANDIN["postgres"],
            "--redis-image", STANDIN["redis"]]


def _command_line(args: tuple[str, ...], project: Path | None) -> list[str]:
    return (["--project-dir", str(project)] if project is not None else []) + list(args)


def _failed(args: tuple[str, ...], done) -> AssertionError:
    return AssertionError(f"afc {' '.join(args)} exited {done.returncode}\nstdout:\n{done.stdout}\n"
                          f"stderr:\n{done.stderr}")


def afc(*args: str, project: Path | None = None, timeout: float = 600, env: dict | None = None,
        check: bool = False) -> subprocess.CompletedProcess:
    """The real `afc` process (`python -m airflow_compose`), without the caller's AFC_* variables."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("AFC_")}
    environ.update(NO_COLOR="1", **(env or {}))
    command = [sys.executable, "-m", "airflow_compose", *_command_line(args, project)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=environ)
    if check and done.returncode != 0:
        raise _failed(args, done)
    return done


@contextlib.contextmanager
def _working_directory(folder: Path):
    previous = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(previous)


@dataclass(frozen=True)
class Ran:
    """What an in-process run of the command line left: the same fields as a finished process."""
    returncode: int
    stdout: str
    stderr: str


@functools.cache
def _click_command(app):
    """Typer turns the app into a click command on every call (~0.2 s for afc's 27 commands): once is enough."""
    return typer_click_command(app)


def run_afc(*args: str, project: Path | None = None, cwd: Path | None = None, env: dict | None = None,
            check: bool = False) -> Ran:
    """`afc ARGS` through its real entry point (`cli.main`) in this process, with no Docker engine reachable.

    As for a new process: no AFC_* variables from the caller, NO_COLOR, no terminal on stdin/stdout/stderr,
    and nothing remembered from an earlier run (rich consoles)."""
    from typer.testing import CliRunner

    from airflow_compose import cli, ui

    environ: dict[str, str | None] = {k: None for k in os.environ if k.startswith("AFC_")}
    environ.update(NO_COLOR="1", **NO_ENGINE, **(env or {}))
    ui._consoles.clear()  # rich consoles keep the streams' colour and terminal facts of their first use
    cli.State.debug = False
    with CliRunner().isolation(env=environ) as (stdout, stderr, _), _working_directory(cwd or Path.cwd()), \
            mock.patch.object(typer.main, "get_command", _click_command):
        try:
            cli.main(_command_line(args, project))
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            ui._consoles.clear()
        ran = Ran(code, stdout.getvalue().decode(), stderr.getvalue().decode())
    if check and ran.returncode != 0:
        raise _failed(args, ran)
    return ran


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


@functools.cache
def schema_validator(file_name: str):
    """A draft-07 validator of a JSON schema in tests/data (see tests/data/README.md), loaded once."""
    import jsonschema

    path = DATA / file_name
    if not path.exists():  # stored gzipped (see tests/data/README.md)
        import gzip

        return jsonschema.Draft7Validator(json.loads(gzip.decompress((DATA / f"{file_name}.gz").read_bytes())))
    return jsonschema.Draft7Validator(json.loads(path.read_text()))


def assert_valid(schema_file: str, document: dict) -> None:
    errors = sorted(schema_validator(schema_file).iter_errors(document), key=str)
    assert not errors, f"{len(errors)} schema error(s), the first at {errors[0].json_path}: {errors[0].message}"


def load_yaml(text: str):
    """yaml.safe_load through libyaml when PyYAML has it: ten times faster on afc's documents."""
    import yaml

    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def load_yaml_documents(text: str) -> list:
    import yaml

    return list(yaml.load_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))


def values(secret: str = "secret-{}", **overrides) -> dict[str, str]:
    """A project's settings: the defaults, every secret set to `secret` formatted with its lower-case name,
    project `demo`, AIRFLOW_UID 1000, then `overrides`."""
    from airflow_compose.stack import settings

    merged = settings.effective({}, {}, None)
    merged.update({name: secret.format(name.lower()) for name in settings.SECRET_NAMES})
    merged.update(AFC_PROJECT_NAME="demo", AIRFLOW_UID="1000")
    merged.update(overrides)
    return merged


class FakeClock:
    """A monotonic clock and sleep for pure waiting loops: sleeping only moves the time on."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def container_id(project: str, service: str) -> str:
    """The id of the (first) container of a compose project's service, running or not."""
    ids = docker("ps", "-aq", "--filter", f"label=com.docker.compose.project={project}",
                 "--filter", f"label=com.docker.compose.service={service}").stdout.split()
    assert ids, f"no {service} container in {project}"
    return ids[0]


def inspect(cid: str) -> dict:
    return json.loads(docker("inspect", cid).stdout)[0]


def passed_since_start(raw: dict) -> bool:
    state = raw["State"]
    log = (state.get("Health") or {}).get("Log") or []
    started = docker_time(state["StartedAt"])
    return state["Status"] == "running" and any(entry["ExitCode"] == 0 and docker_time(entry["Start"]) > started
                                                for entry in log)


def docker_time(text: str) -> datetime:
    """Docker's RFC 3339 times (nanoseconds, trailing zeros trimmed, Z or an offset) as datetimes."""
    main, _, rest = text.partition(".")
    digits = rest[:len(rest) - len(rest.lstrip("0123456789"))]
    zone = rest[len(digits):].replace("Z", "+00:00") or "+00:00"
    return datetime.fromisoformat(f"{main}.{digits[:6].ljust(6, '0')}{zone}")
