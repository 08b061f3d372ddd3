"""10. An idle stack: the host's CPU and the stack's memory while a healthy stack is left alone, afc's against the
official design's, and the engine with no container as the floor of both."""
from __future__ import annotations

import os
import time
from pathlib import Path

from ..core import Bench, Row, Series, log, run, section
from ..stack_tools import afc_project, afc_up, base_up, memory_mib, official_design_project, remove, stack_containers

SECTION = "10. Idle stack"
PORT = 18380
WINDOW = 60  # seconds: one CPU figure is the mean over a window, so 30-s health checks fall in each equally
SETTLE = 60  # seconds left alone after healthy before the first window (first DAG parse, Docker's first checks)
EMPTY_MINUTES = 2


def host_busy_seconds() -> float:
    """CPU seconds the whole host has spent busy since boot (every core; /proc/stat's first line)."""
    ticks = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = ticks[3] + ticks[4]  # idle and iowait
    return (sum(ticks) - idle) / os.sysconf("SC_CLK_TCK")


def idle_windows(minutes: float, name: str = "") -> tuple[Series, Series]:
    """The host's CPU (% of one core) of each `WINDOW`, and after each the memory (MiB) of the stack `name`'s
    containers (`docker stats`, outside the windows, so its own cost is not counted)."""
    cpu, memory = Series(), Series()
    for _ in range(max(1, round(minutes * 60 / WINDOW))):
        busy, began = host_busy_seconds(), time.monotonic()
        time.sleep(WINDOW)
        cpu.add(100 * (host_busy_seconds() - busy) / (time.monotonic() - began))
        if name:
            _, done = run(["docker", "stats", "--no-stream", "--format", "{{.MemUsage}}", *stack_containers(name)])
            memory.add(sum(memory_mib(line) for line in done.stdout.splitlines() if line.strip()))
    return cpu, memory


@section("idle", title="Idle stack", how=(
    "**Idle stack** (`idle`): afc's stack and the official design (as in the cold rows) on the same images, "
    f"each started cold, left alone {SETTLE} s once healthy, then for `--idle-minutes` (default 5), one after the "
    "other. CPU is what a laptop pays: the host's busy CPU from /proc/stat (the stack's processes, the checks "
    f"Docker starts in them and the engine's own work for those; 100 % = one core), the mean of each {WINDOW}-s "
    "window, the median of the windows. Memory is the sum of the stack's containers' `docker stats` memory after "
    f"each window, the median. The engine with no container at all, measured the same way for {EMPTY_MINUTES} "
    "minutes first, is the floor under both. What runs while idle: health checks (every one every 30 s once "
    "healthy in afc's stack, its heartbeat checks one SQL query; the official ones every 30 s, Postgres and Redis "
    "every 10 s, its triggerer, dag-processor and worker checks each loading Airflow), the web server's "
    "workers, the Celery worker's pool, the DAG folder's rescans.",))
def idle(bench: Bench) -> None:
    log(f"idle: the engine with no container, {EMPTY_MINUTES} min")
    if run(["docker", "ps", "-q"])[1].stdout.split():
        bench.note("idle: containers were running before the empty-engine figure; it includes them")
    empty, _ = idle_windows(EMPTY_MINUTES)
    bench.add(Row(SECTION, "engine with no container: host CPU (% of one core)", empty, unit="%", digits=1))
    bench.each_version("idle", version_idle, PORT)


def version_idle(bench: Bench, version: str, port: int) -> None:
    tag = version.replace(".", "")
    a_name, o_name = f"bench-idle-afc-{tag}", f"bench-idle-official-{tag}"
    a = afc_project(bench.work, a_name, version, port)
    log(f"{version} idle: afc up, then {bench.idle_minutes:g} min idle")
    afc_up(a)
    time.sleep(SETTLE)
    afc_cpu, afc_memory = idle_windows(bench.idle_minutes, a_name)
    remove(a_name)
    o = official_design_project(a, bench.work, o_name, port + 1, version)
    log(f"{version} idle: official design up, then {bench.idle_minutes:g} min idle")
    base_up(o_name, o)
    time.sleep(SETTLE)
    off_cpu, off_memory = idle_windows(bench.idle_minutes, o_name)
    remove(o_name)
    label = f"Airflow {version} Celery"
    bench.add(Row(SECTION, f"{label}: host CPU while idle (% of one core)", afc_cpu, off_cpu, "official design",
                  "%", 1, target=1.0))
    bench.add(Row(SECTION, f"{label}: memory while idle", afc_memory, off_memory, "official design", "MiB", 0,
                  target=1.0))
