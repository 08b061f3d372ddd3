"""10. An idle stack: CPU and memory of a healthy stack left alone, afc's against the official design's."""
from __future__ import annotations

import time

from ..core import Bench, Row, Series, log, run, section
from ..stack_tools import afc_project, afc_up, base_up, memory_mib, official_design_project, remove, stack_containers

SECTION = "10. Idle stack"
PORT = 18380
SAMPLE_EVERY = 10  # seconds between `docker stats` samples


def idle_samples(name: str, minutes: float) -> tuple[Series, Series]:
    """CPU (% of one core, summed over the stack's containers) and memory (MiB, summed), sampled until
    `minutes` have passed."""
    cpu, memory = Series(), Series()
    end = time.monotonic() + minutes * 60
    while time.monotonic() < end:
        began = time.monotonic()
        _, done = run(["docker", "stats", "--no-stream", "--format", "{{.CPUPerc}}\t{{.MemUsage}}",
                       *stack_containers(name)])
        lines = [line.split("\t") for line in done.stdout.splitlines() if "\t" in line]
        cpu.add(sum(float(c.rstrip("%") or 0) for c, _ in lines))
        memory.add(sum(memory_mib(m) for _, m in lines))
        time.sleep(max(0.0, SAMPLE_EVERY - (time.monotonic() - began)))
    return cpu, memory


@section("idle", title="Idle stack", how=(
    "**Idle stack** (`idle`): afc's stack and the official design (as in the cold rows) on the same images, "
    "each started cold and then left alone for `--idle-minutes` (default 5) once healthy, one after the "
    "other: CPU is the sum over the stack's containers of `docker stats` CPU % (100 % = one core), memory the "
    "sum of their memory, both sampled every 10 s; the figures are the medians of the samples. What runs "
    "while idle: health checks (afc's run every 2 s on an engine without `start_interval` but call the real "
    "probe only every 30 s once healthy; the official ones every 30 s), "
    "the web server's workers, the Celery worker's pool, the DAG folder's rescans.",))
def idle(bench: Bench) -> None:
    bench.each_version("idle", version_idle, PORT)


def version_idle(bench: Bench, version: str, port: int) -> None:
    tag = version.replace(".", "")
    a_name, o_name = f"bench-idle-afc-{tag}", f"bench-idle-official-{tag}"
    a = afc_project(bench.work, a_name, version, port)
    log(f"{version} idle: afc up, then {bench.idle_minutes:g} min idle")
    afc_up(a)
    afc_cpu, afc_memory = idle_samples(a_name, bench.idle_minutes)
    remove(a_name)
    o = official_design_project(a, bench.work, o_name, port + 1, version)
    log(f"{version} idle: official design up, then {bench.idle_minutes:g} min idle")
    base_up(o_name, o)
    off_cpu, off_memory = idle_samples(o_name, bench.idle_minutes)
    remove(o_name)
    label = f"Airflow {version} Celery"
    bench.add(Row(SECTION, f"{label}: CPU while idle (% of one core)", afc_cpu, off_cpu, "official design",
                  "%", 1, target=1.0))
    bench.add(Row(SECTION, f"{label}: memory while idle", afc_memory, off_memory, "official design", "MiB", 0,
                  target=1.0))
