"""2.–5. Whole stacks, afc against plain Docker Compose: cold time to healthy, warm re-up, restart with data and
footprint, per Airflow version, afc and baseline runs alternating; and a LocalExecutor stack's footprint."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..core import AFC, Bench, Row, Series, log, run, section
from ..stack_tools import (
    afc_project, afc_up, base_up, baseline_project, bump_worker_concurrency, compose, events, footprint,
    footprint_note, init_seconds, official_design_project, remove, sigkilled, web_service
)

FIRST_PORT = 18300  # each version takes ten ports from here on


@dataclass
class Side:
    """The figures of one contender, afc or the plain-compose baseline, on one Airflow version."""
    label: str
    cold: Series = field(default_factory=Series)
    warm: Series = field(default_factory=Series)
    down: Series = field(default_factory=Series)
    up: Series = field(default_factory=Series)
    memory: Series = field(default_factory=Series)
    init: Series = field(default_factory=Series)  # init's own `done in` of a restart
    changed: Series = field(default_factory=Series)  # `afc up` after a `.env` change (afc only)
    killed: list[str] = field(default_factory=list)  # services SIGKILLed by the restart's down (grace ran out)
    footprint: tuple | None = None  # total MiB, MiB per container, processes, web worker processes

    def first_run_extras(self, name: str, web: str, parts: set[str], down: list[str], up: Callable[[], float],
                         warm: Callable[[], None] | None = None, env_file: Path | None = None) -> float:
        """Footprint, warm re-up (`warm`, when given), restart and, with an `env_file`, an `up` after a change
        to it, on this side's healthy stack; the seconds they took."""
        start = time.monotonic()
        if "footprint" in parts:
            self.footprint = footprint(name, web)
            self.memory.add(self.footprint[0])
        if "warm" in parts and warm is not None:
            warm()
        if "restart" in parts:
            since = time.time()
            self.down.add(run(down)[0])
            self.killed = sigkilled(events(name, since - 1, time.time()))
            self.up.add(up())
            took = init_seconds(name)
            if took is not None:
                self.init.add(took)
            log(f"  restart {self.label}: down {self.down.values[-1]:.1f}s up {self.up.values[-1]:.1f}s "
                f"(init {took} s; SIGKILLed by down: {self.killed or 'none'})")
            if env_file is not None:
                concurrency = bump_worker_concurrency(env_file)
                self.changed.add(up())
                log(f"  up after .env change (AFC_WORKER_CONCURRENCY={concurrency}): {self.changed.values[-1]:.1f}s")
        return time.monotonic() - start


@section("cold", "official", "warm", "restart", "footprint", title="Airflow stacks", how=(
    "**Cold time to healthy**: `afc up` on a fresh project (`afc init` with the stand-in images; images present, "
    "no volumes) until it returns with every service healthy. Baseline: afc's rendered compose.yaml copied to a "
    "separate project with only the health checks changed to the official docker-compose.yaml's timings "
    "(interval 30s, timeout 10s, retries 5, start_period 30s, no start_interval) and afc's self-healing wrapper "
    "removed (each service keeps its real check: pg_isready, redis-cli ping, curl of the health endpoint, "
    "the active-queues query through the broker, the job heartbeat query), with afc's dependencies as designed "
    "(waits on health: on an engine without `start_interval` afc's own file waits for starts and afc judges health "
    "itself), "
    "started with `docker compose up -d --wait`. Each run starts from nothing and ends with `down --volumes`.",
    "**Cold, against the official design** (`official`): the official docker-compose.yaml's design on the same "
    "images and settings — its service set (no log cleaner), init by the image's entrypoint "
    "(`_AIRFLOW_DB_MIGRATE=true`, `_AIRFLOW_WWW_USER_CREATE=true`, command `version`), every Airflow service "
    "waiting for healthy postgres and redis and a finished init, the 3.x worker also for a healthy api-server, its "
    "own checks (`airflow jobs check --job-type TriggererJob|DagProcessorJob --hostname \"$HOSTNAME\"`, on 3.x "
    "also `SchedulerJob` for the scheduler, the "
    "worker's `celery --app airflow.providers.celery.executors.celery_executor.app inspect ping`; the others probe "
    "as afc does) and "
    "its health timings per service (postgres 10s/5 retries/5s start period, redis 10s/30s timeout/50/30s, Airflow "
    "services 30s/10s/5/30s; no `start_interval`) — started with `docker compose up -d --wait`, alternating with "
    "the afc and first-baseline runs.",
    "**Warm re-up** (first version, first run): on afc's running, healthy stack, `afc up` then `docker compose "
    "up -d --wait` with the same files, project name and directory (nothing is recreated), three times. "
    "Plain compose starts the exited one-shot `init` service again (migrations check, admin user) and `--wait` "
    "waits for it and the services that depend on it; afc sees every service already healthy and returns.",
    "**Restart with data** (first version, first run only: time budget): `afc down` (volume kept) then "
    "`afc up`; baseline `docker compose down` then `docker compose up -d --wait` on the baseline file. Postgres "
    "keeps its data, so `init` (the same script in both) finds nothing to do; its share is its own "
    "`afc-init: done in` line; the services whose stop ran out of grace (the engine's `kill` events with signal 9 "
    "during the down) are named. Then **`afc up` after a `.env` change**: AFC_WORKER_CONCURRENCY one higher in "
    "the project's `.env`, which recreates init and every Airflow service on the kept database; both against the "
    "cold `afc up`.",
    "**Footprint**: `docker stats --no-stream` memory summed over the stack's containers right after it became "
    "healthy (first run), with the processes counted by `docker top` in the webserver/api-server container.",
))
def stacks(bench: Bench) -> None:
    """Every version in turn, each with its share of the time left; warm re-up and restart on the first only."""
    versions = bench.versions
    for n, version in enumerate(versions):
        extra = bench.selected & ({"warm", "restart"} if n == 0 else set())
        extra |= bench.selected & {"footprint"}
        cold = bench.selected & {"cold", "official"}
        if not cold and not extra:
            continue
        reserve = 240 * ("footprint" in bench.selected) + 120 * ("logs" in bench.selected)
        # the first version also does warm re-up and restart (~5 min on a busy machine)
        extras = 300 * bool(extra & {"warm", "restart"})
        share = (bench.deadline - reserve - time.monotonic() - extras) / (len(versions) - n) + extras
        bench.guarded(f"Airflow {version} stacks", version_stacks, bench, version,
                      cold | extra, FIRST_PORT + 10 * n, share)
        bench.load(f"after Airflow {version}")


def version_stacks(bench: Bench, version: str, parts: set[str], port: int, share: float) -> None:
    """Cold start (and, when asked, warm re-up, restart with data and footprint), afc and baseline alternately.

    A further afc+baseline pair of runs starts only if it is expected to end within `share` seconds from now
    (the pairs stay complete, so the alternation holds)."""
    began = time.monotonic()
    extra_time = 0.0  # spent on warm, restart and footprint (first run only)
    tag = version.replace(".", "")
    web = web_service(version)
    a_name, b_name, o_name = f"bench-afc-{tag}", f"bench-base-{tag}", f"bench-official-{tag}"
    afc, base, official = Side("afc"), Side("baseline"), Side("official design")
    try:
        for i in range(bench.stack_runs):
            spent = time.monotonic() - began
            if i and spent + (spent - extra_time) / i > share:
                bench.note(f"Airflow {version}: {i} of {bench.stack_runs} runs, stopped by the time budget "
                           "(`--budget`).")
                break
            # afc: a fresh project (images present, no volumes), `afc up` until healthy.
            a = afc_project(bench.work, a_name, version, port)
            b = baseline_project(a, bench.work, b_name, port + 1)
            log(f"{version} run {i + 1}/{bench.stack_runs}: afc up (cold)")
            afc.cold.add(afc_up(a))
            log(f"  afc cold: {afc.cold.values[-1]:.1f}s")
            if i == 0:
                extra_time += afc.first_run_extras(a_name, web, parts, AFC + ["--project-dir", str(a), "down"],
                                                   lambda: afc_up(a), warm=lambda: warm_up(afc, base, a_name, a),
                                                   env_file=a / ".env")
            remove(a_name)
            # baseline: plain compose with the official timings.
            log(f"{version} run {i + 1}/{bench.stack_runs}: docker compose up --wait (cold, official timings)")
            base.cold.add(base_up(b_name, b))
            log(f"  baseline cold: {base.cold.values[-1]:.1f}s")
            if i == 0:
                extra_time += base.first_run_extras(b_name, web, parts, compose(b_name, b, "down"),
                                                    lambda: base_up(b_name, b))
            remove(b_name)
            if "official" in parts:
                o = official_design_project(a, bench.work, o_name, port + 2, version)
                log(f"{version} run {i + 1}/{bench.stack_runs}: docker compose up --wait (cold, official design)")
                official.cold.add(base_up(o_name, o))
                log(f"  official design cold: {official.cold.values[-1]:.1f}s")
                remove(o_name)
    finally:
        add_rows(bench, f"Airflow {version} Celery", web, parts, afc, base, official)


def warm_up(afc: Side, base: Side, name: str, folder: Path) -> None:
    """On afc's running stack, with the same file: `afc up`, then plain `compose up --wait`, three times."""
    for _ in range(3):
        afc.warm.add(afc_up(folder))
        base.warm.add(base_up(name, folder))
    log(f"  warm afc {afc.warm.values} compose {base.warm.values}")


def add_rows(bench: Bench, label: str, web: str, parts: set[str], afc: Side, base: Side, official: Side) -> None:
    if "official" in parts:
        bench.add(Row("2. Cold time to healthy", f"{label}: fresh project to all healthy", afc.cold, official.cold,
                      "the official design (`up -d --wait`)", target=0.5))
    if "cold" in parts:
        bench.add(Row("2. Cold time to healthy", f"{label}: fresh project to all healthy", afc.cold, base.cold,
                      "`docker compose up -d --wait`, official health timings", target=0.5))
    if "warm" in parts:
        bench.add(Row("3. Warm re-up", f"{label}: `afc up` on the running, unchanged stack", afc.warm,
                      base.warm, "`docker compose up -d --wait`, same file", target=1.2,
                      note="target also: a few seconds"))
    if "restart" in parts:
        total_a = Series([d + u for d, u in zip(afc.down.values, afc.up.values)])
        total_b = Series([d + u for d, u in zip(base.down.values, base.up.values)])
        bench.add(Row("4. Restart with data", f"{label}: `afc down` + `afc up` (DB kept)", total_a, total_b,
                      "compose down + up --wait of the baseline file",
                      note=f"SIGKILLed by the down (stop grace ran out): afc {', '.join(afc.killed) or 'none'}; "
                           f"baseline {', '.join(base.killed) or 'none'}"))
        bench.add(Row("4. Restart with data", f"{label}: of which `up`", afc.up, base.up, "compose up --wait"))
        bench.add(Row("4. Restart with data", f"{label}: of which init (its own `afc-init: done in`)", afc.init,
                      base.init, "the baseline's init (the same script)"))
        if afc.cold.values:
            bench.add(Row("4. Restart with data", f"{label}: `afc down` + `afc up` against afc's own cold start",
                          total_a, afc.cold, "`afc up` of a fresh project (cold rows)", target=0.6))
            bench.add(Row("4. Restart with data", f"{label}: `afc up` after a `.env` change (AFC_WORKER_CONCURRENCY "
                          "+ 1: init and every Airflow service recreated, DB kept)", afc.changed, afc.cold,
                          "`afc up` of a fresh project (cold rows)", target=0.6))
    if afc.footprint:
        _total, per, processes, servers = afc.footprint
        row = Row("5. Footprint", f"{label}: memory of all containers once healthy", afc.memory, base.memory,
                  "same services, baseline file", "MiB", 0,
                  note="afc per container (MiB): " + footprint_note(per, web, processes, servers))
        if base.footprint:
            row.note += f" (baseline: {base.footprint[2]} / {base.footprint[3]})"
        bench.add(row)


@section("footprint", title="LocalExecutor footprint")
def local_footprint(bench: Bench) -> None:
    """The memory of a LocalExecutor stack of the last version, once healthy (afc only)."""
    version = bench.versions[-1]
    name = f"bench-local-{version.replace('.', '')}"
    folder = afc_project(bench.work, name, version, 18340, "--executor", "local")
    log(f"{version} LocalExecutor: afc up")
    elapsed = afc_up(folder)
    web = web_service(version)
    total, per, processes, servers = footprint(name, web)
    remove(name)
    bench.add(Row("5. Footprint", f"Airflow {version} Local: memory of all containers once healthy",
                  Series([total]), unit="MiB", digits=0,
                  note="per container (MiB): " + footprint_note(per, web, processes, servers)
                  + f"; cold up took {elapsed:.0f}s"))
