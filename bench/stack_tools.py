"""Bench stacks: afc projects, their plain-compose baselines, starting them, their footprint, removing them.

Stacks are named `bench-*`; every one created is remembered and removed with its volumes by `cleanup_all()`."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import yaml

from .core import AFC, UP_TIMEOUT, log, run

STANDIN = ["--postgres-image", "afc-standin/postgres:16", "--redis-image", "afc-standin/redis:7.2"]
# Health-check timings of the official docker-compose.yaml (every Airflow service).
OFFICIAL_TIMINGS = {"interval": "30s", "timeout": "10s", "retries": 5, "start_period": "30s"}

CLEANUP: dict[str, Path | None] = {}  # compose project name -> afc project dir (None: plain compose)


def web_service(version: str) -> str:
    return "webserver" if version.startswith("2.") else "api-server"


def compose(name: str, folder: Path, *args: str) -> list[str]:
    files = [folder / "compose.yaml"] + ([folder / "compose.override.yaml"]
                                         if (folder / "compose.override.yaml").exists() else [])
    command = ["docker", "compose"]
    for f in files:
        command += ["--file", str(f)]
    return command + ["--project-name", name, "--project-directory", str(folder), *args]


def remove(name: str) -> None:
    """Remove a bench stack and its volumes: afc's own `down --volumes` first, then compose by project name."""
    folder = CLEANUP.get(name)
    if folder is not None and (folder / ".env").exists():
        run(AFC + ["--project-dir", str(folder), "down", "--volumes", "--yes"], check=False, timeout=300)
    run(["docker", "compose", "--project-name", name, "down", "--volumes", "--remove-orphans", "--timeout", "10"],
        check=False, timeout=300)


def cleanup_all() -> None:
    for name in list(CLEANUP):
        try:
            remove(name)
        except Exception as error:  # keep going: every stack must go
            log(f"cleanup of {name} failed: {error}")
    CLEANUP.clear()


def afc_project(work: Path, name: str, version: str, port: int, *extra: str) -> Path:
    folder = work / name
    if folder.exists():
        shutil.rmtree(folder)
    CLEANUP[name] = folder
    run(AFC + ["init", str(folder), "--image", f"afc-standin/airflow:{version}-python3.11", *STANDIN, "--port", str(port),
               *extra])
    return folder


HEAL_PROBE = re.compile(r'if timeout -s KILL \d+ (.*?); then echo "\$\$boot 0 0"', re.S)
# The official docker-compose.yaml's own checks where afc probes otherwise: each imports Airflow (the heartbeat
# checks) or loads Airflow's Celery app (the worker's ping; the 3.x file's newer `airflow celery worker-health` is
# not in the stand-in's Celery provider). The 3.x file also checks its scheduler's heartbeat (OFFICIAL_CHECKS_3).
OFFICIAL_CHECKS_3 = {
    "scheduler": ["CMD-SHELL", 'airflow jobs check --job-type SchedulerJob --hostname "$${HOSTNAME}"'],
}
OFFICIAL_CHECKS = {
    "triggerer": ["CMD-SHELL", 'airflow jobs check --job-type TriggererJob --hostname "$${HOSTNAME}"'],
    "dag-processor": ["CMD-SHELL", 'airflow jobs check --job-type DagProcessorJob --hostname "$${HOSTNAME}"'],
    "worker": ["CMD-SHELL", 'celery --app airflow.providers.celery.executors.celery_executor.app inspect ping '
                            '-d "celery@$${HOSTNAME}"'],
}
# The official docker-compose.yaml's own timings for its database and broker (its Airflow services: OFFICIAL_TIMINGS).
OFFICIAL_SERVICE_TIMINGS = {"postgres": {"interval": "10s", "retries": 5, "start_period": "5s"},
                            "redis": {"interval": "10s", "timeout": "30s", "retries": 50, "start_period": "30s"}}


def unwrap(test: list[str]) -> list[str]:
    """afc's check without its self-heal bookkeeping (state file, kill after repeated failures): the real probe."""
    if len(test) != 2 or test[0] != "CMD-SHELL" or "afc-health" not in test[1]:
        return test
    match = HEAL_PROBE.search(test[1])
    if not match:
        raise RuntimeError(f"cannot unwrap health check {test[1]!r}")
    return ["CMD-SHELL", match.group(1).strip()]


def _copy_project(source: Path, work: Path, name: str) -> tuple[Path, dict]:
    folder = work / name
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(source, folder, ignore=shutil.ignore_patterns("compose.yaml", "compose.override.yaml"))
    CLEANUP[name] = None
    data = yaml.safe_load((source / "compose.yaml").read_text())
    data["name"] = name
    return folder, data


def _write(folder: Path, data: dict, port: int, what: str) -> Path:
    for service in data["services"].values():
        service["ports"] = [re.sub(r":\d+:", f":{port}:", p) for p in service.get("ports", [])]
        if not service["ports"]:
            del service["ports"]
    (folder / "compose.yaml").write_text(f"# Baseline for bench/run.py: {what}.\n"
                                         + yaml.safe_dump(data, sort_keys=False, width=200))
    return folder


def baseline_project(source: Path, work: Path, name: str, port: int) -> Path:
    """The same services and images as afc's rendered file, with the official stack's health-check timings and
    afc's dependencies as designed: waits on health (on an engine without `start_interval` afc's own file waits
    for starts instead and judges health itself, which is what is measured against this)."""
    folder, data = _copy_project(source, work, name)
    for service in data["services"].values():
        check = service.get("healthcheck")
        if check:
            service["healthcheck"] = {"test": unwrap(check["test"]), **OFFICIAL_TIMINGS}
        for wait in service.get("depends_on", {}).values():
            if wait["condition"] == "service_started":
                wait["condition"] = "service_healthy"
    return _write(folder, data, port, "afc's rendered file with the official stack's health-check timings")


def official_design_project(source: Path, work: Path, name: str, port: int, version: str) -> Path:
    """The official docker-compose.yaml's design on afc's images and settings: its service set (no log cleaner),
    init by the image's entrypoint (`_AIRFLOW_DB_MIGRATE`, `_AIRFLOW_WWW_USER_CREATE`, then `airflow version`),
    every Airflow service waiting for postgres, redis and init, the 3.x worker also for a healthy api-server,
    its own checks (OFFICIAL_CHECKS; the others probe as afc does) and its health timings per service (no
    `start_interval`)."""
    folder, data = _copy_project(source, work, name)
    services = data["services"]
    services.pop("log-cleaner", None)
    init = services["init"]
    init["command"] = ["version"]
    init["environment"].update(_AIRFLOW_DB_MIGRATE="true", _AIRFLOW_WWW_USER_CREATE="true")
    init["depends_on"] = {"postgres": {"condition": "service_healthy"}, "redis": {"condition": "service_healthy"}}
    official = {**OFFICIAL_CHECKS, **({} if version.startswith("2.") else OFFICIAL_CHECKS_3)}
    for service_name, service in services.items():
        check = service.get("healthcheck")
        if check:
            timings = OFFICIAL_SERVICE_TIMINGS.get(service_name, OFFICIAL_TIMINGS)
            test = official.get(service_name) or unwrap(check["test"])
            service["healthcheck"] = {"test": test, **timings}
        if service_name not in ("postgres", "redis", "init"):
            service["depends_on"] = {"postgres": {"condition": "service_healthy"},
                                     "redis": {"condition": "service_healthy"},
                                     "init": {"condition": "service_completed_successfully"}}
    if "worker" in services and not version.startswith("2."):
        services["worker"]["depends_on"]["api-server"] = {"condition": "service_healthy"}
    return _write(folder, data, port, "the official docker-compose.yaml's design on afc's images and settings")


def afc_up_command(folder: Path) -> list[str]:
    return AFC + ["--project-dir", str(folder), "up", "--timeout", str(UP_TIMEOUT - 60)]


def afc_up(folder: Path) -> float:
    elapsed, _ = run(afc_up_command(folder))
    return elapsed


def base_up(name: str, folder: Path) -> float:
    elapsed, _ = run(compose(name, folder, "up", "--detach", "--wait", "--wait-timeout", str(UP_TIMEOUT - 60)))
    return elapsed


def events(name: str, since: float, until: float) -> list[dict]:
    """The engine's container events of one compose project between two wall-clock times."""
    _, done = run(["docker", "events", "--since", f"{since:.3f}", "--until", f"{until:.3f}", "--filter",
                   "type=container", "--filter", f"label=com.docker.compose.project={name}", "--format",
                   "{{json .}}"])
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def sigkilled(found: list[dict]) -> list[str]:
    """The services whose containers the engine killed with SIGKILL: a stop that ran out of its grace period."""
    killed = []
    for event in found:
        attributes = event.get("Actor", {}).get("Attributes", {})
        if (event.get("Action") or event.get("status")) == "kill" and attributes.get("signal") == "9":
            killed.append(attributes.get("com.docker.compose.service", "?"))
    return sorted(set(killed))


def bump_worker_concurrency(env_file: Path) -> int:
    """A `.env` change that recreates every Airflow container: AFC_WORKER_CONCURRENCY one higher (added when
    absent, from afc's default of 4); the new value."""
    lines = env_file.read_text().splitlines()
    key = "AFC_WORKER_CONCURRENCY="
    found = [n for n, line in enumerate(lines) if line.startswith(key)]
    value = (int(lines[found[-1]].removeprefix(key).strip() or 4) if found else 4) + 1
    if found:
        lines[found[-1]] = f"{key}{value}"
    else:
        lines.append(f"{key}{value}")
    env_file.write_text("\n".join(lines) + "\n")
    return value


def init_seconds(name: str) -> float | None:
    """What the stack's init said it took (its last `afc-init: done in X s`); None without such a line."""
    _, done = run(["docker", "logs", f"{name}-init-1"], check=False)
    found = re.findall(r"afc-init: done in ([\d.]+) s", done.stdout + done.stderr)
    return float(found[-1]) if found else None


def stack_containers(name: str) -> list[str]:
    _, done = run(["docker", "ps", "-q", "--filter", f"label=com.docker.compose.project={name}"])
    return done.stdout.split()


def memory_mib(text: str) -> float:
    used = text.split("/")[0].strip()
    number = float(re.match(r"[\d.]+", used).group())
    unit = used[len(re.match(r"[\d.]+", used).group()):].strip()
    return number * {"B": 1 / 2**20, "KiB": 1 / 1024, "kB": 1 / 1024, "MiB": 1, "MB": 1, "GiB": 1024,
                     "GB": 1024}.get(unit, 1)


def footprint(name: str, web: str) -> tuple[float, dict[str, float], int, int]:
    """Memory of a running stack (total MiB, MiB per container) and the processes of its web container (all,
    web workers)."""
    ids = stack_containers(name)
    _, done = run(["docker", "stats", "--no-stream", "--format", "{{.Name}}\t{{.MemUsage}}", *ids])
    per = {}
    for line in done.stdout.splitlines():
        cname, usage = line.split("\t")
        per[cname.removeprefix(name + "-")] = memory_mib(usage)
    _, top = run(["docker", "top", f"{name}-{web}-1", "-eo", "pid,args"])
    lines = top.stdout.splitlines()[1:]
    servers = [l for l in lines if re.search(r"gunicorn: worker|spawn_main|uvicorn.*worker", l)]
    return sum(per.values()), per, len(lines), len(servers)


def footprint_note(per: dict[str, float], web: str, processes: int, servers: int) -> str:
    return (", ".join(f"{k} {v:.0f}" for k, v in sorted(per.items()))
            + f"; {web}: {processes} processes, {servers} of them web worker processes (gunicorn/uvicorn)")
