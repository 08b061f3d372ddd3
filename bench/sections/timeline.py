"""8. Where the seconds go: a per-phase timeline of a cold `afc up` read from the engine's events, against the
floor (the same image doing the same work in one container, no Compose), and 9. the everyday commands on the
running stack (`afc status`, `afc logs -n 20`) against plain `docker compose`."""
from __future__ import annotations

import json
import re
import shlex
import subprocess
import time
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path

from ..core import AFC, ENV, UP_TIMEOUT, Bench, Row, Series, docker_calls, log, run, section
from ..stack_tools import afc_project, afc_up_command, compose, events, remove, unwrap, web_service

TIMELINE = "8. Where the seconds go"
EVERYDAY = "9. Everyday commands on a running stack"
PORT = 18360
NOT_COMPONENTS = {"postgres", "redis", "init", "log-cleaner"}


def phases(found: list[dict], t0: float) -> dict[str, dict[str, float]]:
    """Per service, the seconds from t0 to its first create, start, healthy and exit (die)."""
    out: dict[str, dict[str, float]] = defaultdict(dict)
    for event in found:
        service = event.get("Actor", {}).get("Attributes", {}).get("com.docker.compose.service")
        action = event.get("Action") or event.get("status", "")
        key = {"create": "created", "start": "started", "health_status: healthy": "healthy",
               "die": "exited"}.get(action)
        if service and key and key not in out[service]:
            out[service][key] = int(event["timeNano"]) / 1e9 - t0
    return dict(out)


def watched_afc_up(folder: Path, t0: float) -> tuple[float, dict[str, float]]:
    """`afc up`, its progress lines read as they come: its wall time, and per service the seconds from t0 to its
    first line saying it is healthy (afc's own check: on an engine without `start_interval` Docker's `healthy`
    event can come 30 s later)."""
    began = time.perf_counter()
    process = subprocess.Popen(afc_up_command(folder), env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True)
    said, healthy = [], {}
    for line in process.stderr:
        said.append(line)
        match = re.match(r"\[\s*[\d.]+s\] (\S+): (\d+)/(\d+) running healthy", line)
        if match and match.group(2) == match.group(3) and match.group(1) not in healthy:
            healthy[match.group(1)] = time.time() - t0
    if process.wait(timeout=UP_TIMEOUT) != 0:
        raise RuntimeError(f"afc up exited {process.returncode}\n{''.join(said)[-3000:]}")
    return time.perf_counter() - began, healthy


def init_steps(name: str, t0: float) -> dict[str, float]:
    """Seconds from t0 to each `afc-init:` line of the init container's log (migration, admin user, done)."""
    _, done = run(["docker", "logs", "--timestamps", f"{name}-init-1"], check=False)
    steps = {}
    for line in (done.stdout + done.stderr).splitlines():
        stamp, _, text = line.partition(" ")
        if text.startswith("afc-init: "):
            # RFC 3339 with nanoseconds: keep microseconds for fromisoformat
            when = datetime.fromisoformat(stamp[:26].rstrip("Z") + "+00:00").timestamp()
            steps[text.removeprefix("afc-init: ").split(":")[0].split(" in ")[0]] = when - t0
    return steps


FLOOR_SCRIPT = r"""
set -u
t0=$EPOCHREALTIME
mark() { awk -v now="$EPOCHREALTIME" -v t0="$t0" -v what="$1" 'BEGIN { printf "floor: %%s %%.2f\n", what, now - t0 }'; }
until python -c 'import os, psycopg2; psycopg2.connect(os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].replace("postgresql+psycopg2://", "postgresql://"), connect_timeout=2).close()' 2>/dev/null; do sleep 0.2; done
mark database
airflow db migrate >/tmp/migrate.log 2>&1 || { cat /tmp/migrate.log; exit 1; }
mark migration
airflow users create --username admin --password floor --role Admin --firstname A --lastname B \
  --email admin@example.com >/tmp/user.log 2>&1 || { cat /tmp/user.log; exit 1; }
mark user
%(starts)s
pending="%(names)s"
while [ -n "$pending" ]; do
  left=""
  for name in $pending; do
    if probe_$name >/dev/null 2>&1; then mark "$name"; else left="$left $name"; fi
  done
  pending=$left
  [ -z "$pending" ] || sleep 0.5
done
"""


def floor_script(rendered: dict) -> str:
    """The floor's shell script: wait for the database, migrate, create the user, start every component at once
    and poll each component's own health probe (afc's real probe without its self-heal bookkeeping)."""
    starts, probes, names = [], [], []
    for service, spec in rendered["services"].items():
        if service in NOT_COMPONENTS:
            continue
        name = service.replace("-", "_")
        names.append(name)
        starts.append(f"airflow {shlex.join(spec['command'])} >/tmp/{name}.log 2>&1 &")
        probe = unwrap(spec["healthcheck"]["test"])
        probe_text = probe[1] if probe[0] == "CMD-SHELL" else shlex.join(probe[1:])
        probes.append(f"probe_{name}() {{ timeout 20 sh -c {shlex.quote(probe_text.replace('$$', '$'))}; }}")
    return "\n".join(probes) + FLOOR_SCRIPT % {"starts": "\n".join(starts), "names": " ".join(names)}


def floor_run(folder: Path, name: str, image: str) -> tuple[float, dict[str, float]]:
    """Postgres and Redis containers plus one Airflow container doing init and every component; the wall time
    from the first `docker run` until every component's probe answered, and the script's own marks."""
    _, config = run(compose(name, folder, "config", "--format", "json"))
    rendered = json.loads(config.stdout)
    services = rendered["services"]
    env_file = folder / "floor.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in services["scheduler"]["environment"].items()))
    postgres = services["postgres"]
    network = f"{name}-net"
    run(["docker", "network", "create", network])
    try:
        start = time.perf_counter()
        run(["docker", "run", "-d", "--name", f"{name}-postgres", "--network", network, "--network-alias",
             "postgres", *[a for k, v in postgres["environment"].items() for a in ("-e", f"{k}={v}")],
             postgres["image"]])
        run(["docker", "run", "-d", "--name", f"{name}-redis", "--network", network, "--network-alias", "redis",
             services["redis"]["image"]])
        _, done = run(["docker", "run", "--name", f"{name}-airflow", "--network", network, "--env-file",
                       str(env_file), "--user", "50000:0", "--entrypoint", "bash", image, "-c",
                       floor_script(rendered)])
        elapsed = time.perf_counter() - start
    finally:
        run(["docker", "rm", "-f", "-v", f"{name}-postgres", f"{name}-redis", f"{name}-airflow"], check=False)
        run(["docker", "network", "rm", network], check=False)
    marks = {}
    for line in done.stdout.splitlines():
        if line.startswith("floor: "):
            what, seconds = line.removeprefix("floor: ").rsplit(" ", 1)
            marks[what] = float(seconds)
    return elapsed, marks


def everyday(bench: Bench, label: str, name: str, folder: Path) -> None:
    """`afc status` / `afc logs -n 20 scheduler` against `docker compose ps` / `logs --tail 20`, alternating."""
    pairs = {
        "`afc status`": (AFC + ["--project-dir", str(folder), "status"], compose(name, folder, "ps"),
                         "`docker compose ps`"),
        "`afc logs -n 20 scheduler`": (AFC + ["--project-dir", str(folder), "logs", "-n", "20", "scheduler"],
                                       compose(name, folder, "logs", "--tail", "20", "scheduler"),
                                       "`docker compose logs --tail 20 scheduler`"),
    }
    for what, (ours, theirs, base_name) in pairs.items():
        a, b = Series(), Series()
        run(ours), run(theirs)  # warm the page cache
        for _ in range(3 if bench.quick else 7):
            a.add(run(ours)[0] * 1000)
            b.add(run(theirs)[0] * 1000)
        bench.add(Row(EVERYDAY, f"{label}: {what}", a, b, base_name, "ms", 0, target=1.5))
    counted = [("`afc up` (warm: nothing to do)", AFC + ["--project-dir", str(folder), "up"],
                compose(name, folder, "up", "--detach", "--wait"), "`docker compose up --detach --wait`"),
               ("`afc status`", *pairs["`afc status`"])]
    for what, ours, theirs, base_name in counted:
        calls, base = docker_calls(ours, bench.work), docker_calls(theirs, bench.work)
        bench.add(Row(EVERYDAY, f"{label}: docker processes started by {what}", Series([len(calls)]),
                      Series([len(base)]), base_name, "", 0,
                      note="; ".join(f"{n}× `docker {c}`" if n > 1 else f"`docker {c}`"
                                     for c, n in Counter(_short(call) for call in calls).items())))


def _short(call: str) -> str:
    """A docker command line without its changing parts (ids, paths, project names), for counting kinds."""
    words = [w for w in call.split() if not w.startswith(("/", "--project", "-f", "label=", "bench-")) and len(w) < 40]
    return " ".join(words[:4])


@section("timeline", title="Timeline and floor", how=(
    "**Where the seconds go** (`timeline`): a cold `afc up` (fresh project, images present) with its per-phase "
    "timeline read afterwards from the engine's events (`docker events`: each container's create, start, first "
    "`healthy`, init's exit), `afc up`'s own progress lines as they came (a service's healthy moment is the "
    "earlier of its line and Docker's event: on an engine without `start_interval` afc runs a starting "
    "service's check itself and Docker's first check comes up to 30 s later) and init's own timestamped log "
    "lines (database wait, migration check or migration, admin user), all as seconds from the start of `afc up`. "
    "Alternating with it, **the floor**: the same image and settings "
    "doing the same work without Compose — Postgres and Redis containers, then one Airflow container that waits "
    "for the database, runs `airflow db migrate` and `airflow users create`, starts every component at once and "
    "polls each component's own health probe (afc's probes, every 0.5 s) — timed from the first `docker run` "
    "until every probe answered. On the first run's stack, **everyday commands**: `afc status` and `afc logs -n "
    "20 scheduler` against `docker compose ps` and `docker compose logs --tail 20 scheduler`, alternating.",))
def timeline(bench: Bench) -> None:
    bench.each_version("timeline", version_timeline, PORT)


def version_timeline(bench: Bench, version: str, port: int) -> None:
    label = f"Airflow {version} Celery"
    tag = version.replace(".", "")
    name = f"bench-line-{tag}"
    image = f"afc-standin/airflow:{version}-python3.11"
    ups, floors = Series(), Series()
    seen: dict[str, dict[str, Series]] = defaultdict(lambda: defaultdict(Series))
    floor_marks: dict[str, Series] = defaultdict(Series)
    for i in range(bench.stack_runs):
        folder = afc_project(bench.work, name, version, port)
        log(f"{version} timeline run {i + 1}/{bench.stack_runs}: afc up (cold)")
        t0 = time.time()
        elapsed, judged = watched_afc_up(folder, t0)
        ups.add(elapsed)
        for service, marks in phases(events(name, t0 - 1, time.time()), t0).items():
            if service in judged:  # afc's own check passed first (or Docker's event is all there is)
                marks["healthy"] = min(judged[service], marks.get("healthy", judged[service]))
            for key, seconds in marks.items():
                seen[service][key].add(seconds)
        for step, seconds in init_steps(name, t0).items():
            seen[f"init: {step}"]["logged"].add(seconds)
        if i == 0:
            everyday(bench, label, name, folder)
        remove(name)
        log(f"  afc up {ups.values[-1]:.1f}s; floor run")
        elapsed, marks = floor_run(folder, f"bench-floor-{tag}", image)
        floors.add(elapsed)
        for key, seconds in marks.items():
            floor_marks[key].add(seconds)
        log(f"  floor {elapsed:.1f}s {marks}")
    web = web_service(version)
    floor_note = ", ".join(f"{k} at {s.median:.1f} s" for k, s in floor_marks.items())
    bench.add(Row(TIMELINE, f"{label}: `afc up` to all healthy, against the floor", ups, floors,
                  "floor: one container, no Compose", target=1.5,
                  note=f"floor inside its container (from its start): {floor_note}"))
    order = sorted(seen, key=lambda s: min(v.median for v in seen[s].values()))
    for service in order:
        marks = seen[service]
        end = marks.get("healthy") or marks.get("exited") or marks.get("logged")
        detail = ", ".join(f"{k} {v.median:.1f} s" for k, v in marks.items())
        what = f"{label}: {service}" + (" (the web server)" if service == web else "")
        bench.add(Row(TIMELINE, what, end or Series(), note=f"seconds from the start of `afc up`: {detail}"))
