"""Benchmarks of afc against plain Docker Compose, measured in the same run (see bench/README.md).

    .venv/bin/python bench/run.py [--quick] [--only startup,cold,warm,restart,footprint,logs,build]

Every figure is a median over several runs with its spread (min-max); afc and its baseline run alternately,
so both see the same machine load. Prints a table and writes BENCHMARKS.md at the top of the repository.
Stacks use project names `bench-*` and host ports 18300-18399, and are removed (with their volumes) at the
end, also on Ctrl-C or failure.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
AFC = [str(BIN / "afc")] if (BIN / "afc").exists() else [sys.executable, "-m", "airflow_compose"]
STANDIN = ["--postgres-image", "afc-standin/postgres:16", "--redis-image", "afc-standin/redis:7.2"]
VERSIONS = ["2.10.4", "3.3.2"]
SECTIONS = ["startup", "cold", "warm", "restart", "footprint", "logs", "build"]
# Health-check timings of the official docker-compose.yaml (every Airflow service).
OFFICIAL_TIMINGS = {"interval": "30s", "timeout": "10s", "retries": 5, "start_period": "30s"}
LOG_LINES = 100_000
UP_TIMEOUT = 900  # seconds for any single command (a cold stack on a busy 2-core machine)

ENV = {k: v for k, v in os.environ.items() if not k.startswith("AFC_")}
ENV.update(NO_COLOR="1", COMPOSE_PROGRESS="quiet", COMPOSE_ANSI="never")


# --- measuring ---------------------------------------------------------------------------------------------

@dataclass
class Series:
    values: list[float] = field(default_factory=list)

    def add(self, value: float) -> None:
        self.values.append(value)

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    def text(self, unit: str = "s", digits: int = 2) -> str:
        if not self.values:
            return "n/a"
        fmt = f"{{:.{digits}f}}"
        if len(self.values) == 1:
            return f"{fmt.format(self.values[0])} {unit} (1 run)"
        return (f"{fmt.format(self.median)} {unit} ({fmt.format(min(self.values))}–{fmt.format(max(self.values))}, "
                f"n={len(self.values)})")


@dataclass
class Row:
    section: str
    what: str
    afc: Series
    base: Series | None = None
    base_name: str = ""
    unit: str = "s"
    digits: int = 2
    target: float | None = None  # ratio afc/baseline must be <= target (or >= when higher_is_better)
    higher_is_better: bool = False
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.base is None or not self.base.values or not self.afc.values or self.base.median == 0:
            return None
        return self.afc.median / self.base.median

    @property
    def verdict(self) -> str:
        if self.target is None or self.ratio is None:
            return "–"
        met = self.ratio >= self.target if self.higher_is_better else self.ratio <= self.target
        return "met" if met else "MISSED"

    def cells(self) -> list[str]:
        ratio = f"{self.ratio:.2f}×" if self.ratio is not None else "–"
        target = "–" if self.target is None else (f"≥ {self.target:g}×" if self.higher_is_better
                                                  else f"≤ {self.target:g}×")
        base = f"{self.base_name}: {self.base.text(self.unit, self.digits)}" if self.base is not None else "–"
        return [self.what, self.afc.text(self.unit, self.digits), base, ratio, target, self.verdict]


ROWS: list[Row] = []
NOTES: list[str] = []
LOADS: list[str] = []


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def load(label: str) -> None:
    text = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    others = subprocess.run(["docker", "ps", "-q"], capture_output=True, text=True).stdout.split()
    LOADS.append(f"{label}: `{text}`; {len(others)} containers running on the engine")
    log(LOADS[-1])


def run(command: list[str], *, cwd: Path | None = None, check: bool = True, timeout: float = UP_TIMEOUT,
        quiet: bool = True) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=ENV, capture_output=quiet, text=True, timeout=timeout)
    elapsed = time.perf_counter() - start
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}\n{done.stdout}\n{done.stderr}")
    return elapsed, done


# --- stacks -------------------------------------------------------------------------------------------------

CLEANUP: dict[str, Path | None] = {}  # compose project name -> afc project dir (None: plain compose)


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


def unwrap(test: list[str]) -> list[str]:
    """afc's check without its legacy start-up wrapper (the stamp file): the service's real check."""
    if len(test) != 2 or test[0] != "CMD-SHELL" or "afc-healthy" not in test[1]:
        return test
    match = re.search(r"then exit 0; fi; (.*) && echo \"\$\$boot\" > \$\$stamp\s*$", test[1], re.S)
    if not match:
        raise RuntimeError(f"cannot unwrap health check {test[1]!r}")
    inner = match.group(1).strip()
    if inner.startswith("( ") and inner.endswith(" )"):
        inner = inner[2:-2]
    return ["CMD-SHELL", inner]


def baseline_project(source: Path, work: Path, name: str, port: int) -> Path:
    """The same services and images as afc's rendered file, with the official stack's health-check timings."""
    folder = work / name
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(source, folder, ignore=shutil.ignore_patterns("compose.yaml", "compose.override.yaml"))
    CLEANUP[name] = None
    data = yaml.safe_load((source / "compose.yaml").read_text())
    data["name"] = name
    for service in data["services"].values():
        check = service.get("healthcheck")
        if check:
            service["healthcheck"] = {"test": unwrap(check["test"]), **OFFICIAL_TIMINGS}
        service["ports"] = [re.sub(r":\d+:", f":{port}:", p) for p in service.get("ports", [])]
        if not service["ports"]:
            del service["ports"]
    (folder / "compose.yaml").write_text(
        "# Baseline for bench/run.py: afc's rendered file with the official stack's health-check timings.\n"
        + yaml.safe_dump(data, sort_keys=False, width=200))
    return folder


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


# --- sections -----------------------------------------------------------------------------------------------

def bench_startup(work: Path, runs: int) -> None:
    empty = work / "not-a-project"
    empty.mkdir(exist_ok=True)
    commands = {
        "afc --version": AFC + ["--version"],
        "afc --help": AFC + ["--help"],
        "afc status (outside a project)": AFC + ["status"],
        "docker compose version": ["docker", "compose", "version"],
        "python -c pass": [sys.executable, "-c", "pass"],
    }
    series = {k: Series() for k in commands}
    for k, command in commands.items():  # warm the page cache once
        run(command, cwd=empty, check=False)
    for _ in range(runs):
        for k, command in commands.items():
            elapsed, done = run(command, cwd=empty, check=False)
            if k.startswith("afc status") and done.returncode == 0:
                raise RuntimeError("afc status outside a project succeeded: not measuring what we think")
            series[k].add(elapsed * 1000)
    dc, py = series["docker compose version"], series["python -c pass"]
    for k in ["afc --version", "afc --help", "afc status (outside a project)"]:
        ROWS.append(Row("1. CLI start-up", f"`{k}`", series[k], dc, "`docker compose version`", "ms", 0,
                        target=3 if k == "afc --help" else None))
        ROWS.append(Row("1. CLI start-up", f"`{k}` vs bare interpreter", series[k], py, "`python -c pass`",
                        "ms", 0))


@dataclass
class StackSeries:
    cold_afc: Series = field(default_factory=Series)
    cold_base: Series = field(default_factory=Series)
    warm_afc: Series = field(default_factory=Series)
    warm_base: Series = field(default_factory=Series)
    down_afc: Series = field(default_factory=Series)
    down_base: Series = field(default_factory=Series)
    up_afc: Series = field(default_factory=Series)
    up_base: Series = field(default_factory=Series)
    mem_afc: Series = field(default_factory=Series)
    mem_base: Series = field(default_factory=Series)


def afc_up(folder: Path) -> float:
    elapsed, _ = run(AFC + ["--project-dir", str(folder), "up", "--timeout", str(UP_TIMEOUT - 60)])
    return elapsed


def base_up(name: str, folder: Path) -> float:
    elapsed, _ = run(compose(name, folder, "up", "--detach", "--wait", "--wait-timeout", str(UP_TIMEOUT - 60)))
    return elapsed


def bench_stacks(work: Path, version: str, runs: int, sections: set[str], port: int, share: float) -> None:
    """Cold start (and, when asked, warm re-up, restart with data and footprint), afc and baseline alternately.

    A further afc+baseline pair of runs starts only if it is expected to end within `share` seconds from now
    (the pairs stay complete, so the alternation holds)."""
    began = time.monotonic()
    extra_time = 0.0  # spent on warm, restart and footprint (first run only)
    tag = version.replace(".", "")
    web = "webserver" if version.startswith("2.") else "api-server"
    a_name, b_name = f"bench-afc-{tag}", f"bench-base-{tag}"
    s = StackSeries()
    footprints: dict[str, tuple] = {}
    try:
        for i in range(runs):
            spent = time.monotonic() - began
            if i and spent + (spent - extra_time) / i > share:
                NOTES.append(f"Airflow {version}: {i} of {runs} runs, stopped by the time budget (`--budget`).")
                log(NOTES[-1])
                break
            # afc: a fresh project (images present, no volumes), `afc up` until healthy.
            a = afc_project(work, a_name, version, port)
            b = baseline_project(a, work, b_name, port + 1)
            log(f"{version} run {i + 1}/{runs}: afc up (cold)")
            s.cold_afc.add(afc_up(a))
            log(f"  afc cold: {s.cold_afc.values[-1]:.1f}s")
            t_extra = time.monotonic()
            if "footprint" in sections and i == 0:
                footprints["afc"] = footprint(a_name, web)
                s.mem_afc.add(footprints["afc"][0])
            if "warm" in sections and i == 0:
                for _ in range(3):  # same running stack, same file: afc up, then plain compose up --wait
                    s.warm_afc.add(afc_up(a))
                    s.warm_base.add(base_up(a_name, a))
                log(f"  warm afc {s.warm_afc.values} compose {s.warm_base.values}")
            if "restart" in sections and i == 0:
                s.down_afc.add(run(AFC + ["--project-dir", str(a), "down"])[0])
                s.up_afc.add(afc_up(a))
                log(f"  restart afc: down {s.down_afc.values[-1]:.1f}s up {s.up_afc.values[-1]:.1f}s")
            extra_time += time.monotonic() - t_extra
            remove(a_name)
            # baseline: plain compose with the official timings.
            log(f"{version} run {i + 1}/{runs}: docker compose up --wait (cold, official timings)")
            s.cold_base.add(base_up(b_name, b))
            log(f"  baseline cold: {s.cold_base.values[-1]:.1f}s")
            t_extra = time.monotonic()
            if "footprint" in sections and i == 0:
                footprints["base"] = footprint(b_name, web)
                s.mem_base.add(footprints["base"][0])
            if "restart" in sections and i == 0:
                s.down_base.add(run(compose(b_name, b, "down"))[0])
                s.up_base.add(base_up(b_name, b))
                log(f"  restart baseline: down {s.down_base.values[-1]:.1f}s up {s.up_base.values[-1]:.1f}s")
            extra_time += time.monotonic() - t_extra
            remove(b_name)

    finally:
        add_stack_rows(version, web, sections, s, footprints)


def add_stack_rows(version, web, sections, s, footprints) -> None:
    label = f"Airflow {version} Celery"
    if "cold" in sections:
        ROWS.append(Row("2. Cold time to healthy", f"{label}: fresh project to all healthy", s.cold_afc, s.cold_base,
                        "`docker compose up -d --wait`, official health timings", target=0.5))
    if "warm" in sections:
        ROWS.append(Row("3. Warm re-up", f"{label}: `afc up` on the running, unchanged stack", s.warm_afc,
                        s.warm_base, "`docker compose up -d --wait`, same file", target=1.2,
                        note="target also: a few seconds"))
    if "restart" in sections:
        total_a = Series([d + u for d, u in zip(s.down_afc.values, s.up_afc.values)])
        total_b = Series([d + u for d, u in zip(s.down_base.values, s.up_base.values)])
        ROWS.append(Row("4. Restart with data", f"{label}: `afc down` + `afc up` (DB kept)", total_a, total_b,
                        "compose down + up --wait of the baseline file"))
        ROWS.append(Row("4. Restart with data", f"{label}: of which `up`", s.up_afc, s.up_base,
                        "compose up --wait"))
    if footprints:
        total, per, procs, servers = footprints["afc"]
        row = Row("5. Footprint", f"{label}: memory of all containers once healthy", s.mem_afc, s.mem_base,
                  "same services, baseline file", "MiB", 0)
        row.note = (f"afc per container (MiB): " + ", ".join(f"{k} {v:.0f}" for k, v in sorted(per.items()))
                    + f"; {web}: {procs} processes, {servers} of them web worker processes (gunicorn/uvicorn)")
        if "base" in footprints:
            row.note += f" (baseline: {footprints['base'][2]} / {footprints['base'][3]})"
        ROWS.append(row)


def bench_local_footprint(work: Path, version: str, port: int) -> None:
    tag = version.replace(".", "")
    web = "webserver" if version.startswith("2.") else "api-server"
    name = f"bench-local-{tag}"
    folder = afc_project(work, name, version, port, "--executor", "local")
    log(f"{version} LocalExecutor: afc up")
    elapsed = afc_up(folder)
    total, per, procs, servers = footprint(name, web)
    remove(name)
    ROWS.append(Row("5. Footprint", f"Airflow {version} Local: memory of all containers once healthy",
                    Series([total]), unit="MiB", digits=0,
                    note=f"per container (MiB): " + ", ".join(f"{k} {v:.0f}" for k, v in sorted(per.items()))
                    + f"; {web}: {procs} processes, {servers} of them web worker processes (gunicorn/uvicorn); "
                      f"cold up took {elapsed:.0f}s"))


SPAM = f"""
import sys, time
out = sys.stdout
for i in range({LOG_LINES}):
    out.write("spam-line %07d\\n" % i)
out.write("spam-done\\n")
out.flush()
while True:
    time.sleep(3600)
"""


def follow(command: list[str], marker: bytes = b"spam-done") -> tuple[float, float, int]:
    """Start a `logs -f` command; time to its first line and to `marker`; then end its process group."""
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=ENV,
                             start_new_session=True)
    first = None
    lines = 0
    tail = b""
    try:
        while True:
            chunk = os.read(child.stdout.fileno(), 1 << 16)
            if not chunk:
                raise RuntimeError(f"{' '.join(command)} ended before {marker!r}")
            if first is None:
                first = time.perf_counter() - start
            lines += chunk.count(b"\n")
            if marker in tail + chunk:
                return first, time.perf_counter() - start, lines
            tail = chunk[-len(marker):]
            if time.perf_counter() - start > 300:
                raise RuntimeError(f"{' '.join(command)}: no {marker!r} after 300 s")
    finally:
        try:
            os.killpg(child.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            child.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
        child.stdout.close()


def bench_logs(work: Path, runs: int, port: int) -> None:
    name = "bench-logs"
    folder = afc_project(work, name, "2.10.4", port)
    (folder / "compose.override.yaml").write_text(yaml.safe_dump({"services": {"triggerer": {
        "entrypoint": ["python", "-c", SPAM], "restart": "no", "healthcheck": {"disable": True}}}}))
    run(compose(name, folder, "up", "--detach", "--no-deps", "triggerer"))
    deadline = time.monotonic() + 120
    while b"spam-done" not in subprocess.run(["docker", "logs", "--tail", "1", f"{name}-triggerer-1"],
                                             capture_output=True).stdout:
        if time.monotonic() > deadline:
            raise RuntimeError("the log spammer did not finish printing in 120 s")
        time.sleep(0.5)
    afc_cmd = AFC + ["--project-dir", str(folder), "logs", "-f", "triggerer"]
    base_cmd = compose(name, folder, "logs", "-f", "triggerer")
    rate_a, rate_b, first_a, first_b = Series(), Series(), Series(), Series()
    flow_a, flow_b = Series(), Series()
    follow(afc_cmd), follow(base_cmd)  # warm-up
    for _ in range(runs):
        for cmd, rate, first, flow in ((afc_cmd, rate_a, first_a, flow_a), (base_cmd, rate_b, first_b, flow_b)):
            t_first, t_all, lines = follow(cmd)
            if lines < LOG_LINES:
                raise RuntimeError(f"{' '.join(cmd)} gave {lines} lines, expected {LOG_LINES}")
            rate.add(LOG_LINES / t_all / 1000)
            first.add(t_first * 1000)
            flow.add(LOG_LINES / (t_all - t_first) / 1000)
    remove(name)
    what = f"{LOG_LINES:,} lines already in the log of a stack service (its command overridden to print them)"
    ROWS.append(Row("6. Log throughput", f"`afc logs -f triggerer`: {what}", rate_a, rate_b,
                    "`docker compose logs -f triggerer`", "k lines/s", 1, target=0.9, higher_is_better=True,
                    note="whole command, start-up included, until the last line arrives"))
    ROWS.append(Row("6. Log throughput", "`afc logs -f triggerer`: lines/s once the first line arrived", flow_a,
                    flow_b, "`docker compose logs -f triggerer`", "k lines/s", 1,
                    note="afc runs `docker compose logs --no-color --no-log-prefix` with stdout inherited "
                         "(no copy through Python); the baseline command adds the service prefix"))
    ROWS.append(Row("6. Log throughput", "`afc logs -f triggerer`: delay to the first line", first_a, first_b,
                    "`docker compose logs -f triggerer`", "ms", 0))


def bench_build(work: Path, runs: int) -> None:
    """`afc build` against `docker build` (the classic builder, as afc uses) of the same Dockerfile and context."""
    from airflow_compose import build as afc_build
    from airflow_compose.project import Project

    folder = afc_project(work, "bench-build", "2.10.4", 18360, "--executor", "local")
    wheels = ROOT / ".cache" / "test-wheels"
    if not list(wheels.glob("toolz-1.0.0-*.whl")):
        run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:", "--dest",
             str(wheels), "toolz==1.0.0"], timeout=300)
    (folder / "wheels").mkdir()
    for wheel in wheels.glob("toolz-1.0.0-*.whl"):
        shutil.copy(wheel, folder / "wheels" / wheel.name)
    (folder / "requirements.txt").write_text("toolz==1.0.0\n")
    plan = afc_build.plan_build(Project(folder, environ={}), Project(folder, environ={}).values())
    context = work / "bench-build-context"
    context.mkdir()
    afc_build.stage(afc_build.context_files(plan), context, afc_build.render_dockerfile(plan, "50000"))
    baseline_tag = "bench-build-baseline:latest"
    afc_cmd = AFC + ["--project-dir", str(folder), "build"]
    base_cmd = ["docker", "build", "--quiet", "--tag", baseline_tag, str(context)]
    env_before = (folder / ".env").read_text()

    def forget() -> None:
        """Remove both images and with them their untagged layers: the next build starts cold."""
        tags = [line.split("=", 1)[1] for line in (folder / ".env").read_text().splitlines()
                if line.startswith("AIRFLOW_IMAGE_NAME=bench-build-airflow:")]
        for tag in tags + [baseline_tag]:
            subprocess.run(["docker", "image", "rm", "--force", tag], capture_output=True)
        (folder / ".env").write_text(env_before)

    cold_a, cold_b, warm_a, warm_b = Series(), Series(), Series(), Series()
    previous = ENV.get("DOCKER_BUILDKIT")
    ENV["DOCKER_BUILDKIT"] = "0"
    try:
        for _ in range(runs):
            forget()
            cold_a.add(run(afc_cmd)[0])
            forget()
            cold_b.add(run(base_cmd)[0])
            run(afc_cmd)  # both images present: the next two are rebuilds with nothing changed
            warm_a.add(run(afc_cmd)[0])
            warm_b.add(run(base_cmd)[0])
        forget()
    finally:
        ENV.pop("DOCKER_BUILDKIT") if previous is None else ENV.update(DOCKER_BUILDKIT=previous)
    remove("bench-build")
    base_name = "`docker build` (classic builder) of the same Dockerfile and context"
    ROWS.append(Row("7. Image build", "`afc build`, cold: requirements.txt offline from wheels/ on 2.10.4",
                    cold_a, cold_b, base_name, target=1.2,
                    note="afc adds: reading the project, inspecting the base, staging the context, hashing"))
    ROWS.append(Row("7. Image build", "`afc build` again, inputs unchanged", warm_a, warm_b,
                    base_name + ", every layer cached",
                    note="afc finds the image of this content hash and does not call the builder"))


# --- report -------------------------------------------------------------------------------------------------

def table(rows: list[Row]) -> str:
    head = ["Measured", "afc: median (min–max)", "Baseline: median (min–max)", "Ratio", "Target", "Met"]
    out = []
    section = None
    for row in sorted(rows, key=lambda r: r.section):  # stable: versions keep their order within a section
        if row.section != section:
            section = row.section
            out += ["", f"### {section}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out.append("| " + " | ".join(row.cells()) + " |")
        if row.note:
            out.append(f"| ↳ {row.note} | | | | | |")
    return "\n".join(out)


def write_report(args, started: str, elapsed: float) -> str:
    engine = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True,
                            text=True).stdout.strip()
    compose_v = subprocess.run(["docker", "compose", "version", "--short"], capture_output=True,
                               text=True).stdout.strip()
    text = f"""# Benchmarks

Written by `bench/run.py` ({'quick: 1 run per stack measurement' if args.quick else 'full run'}; sections: \
{', '.join(args.only)}), {started} UTC, {elapsed / 60:.1f} min. Machine: {os.cpu_count()} CPUs, Docker Engine \
{engine}, compose {compose_v}, stand-in images `afc-standin/*`.

Every figure is the median over n runs with the spread (min–max); a ratio is afc's median over the
baseline's median, both measured in this run with afc and baseline runs alternating. Re-run with
`make bench` (or `.venv/bin/python bench/run.py [--quick] [--only {','.join(SECTIONS)}]`).

**The machine was shared**: other engineers ran Airflow stacks on the same 2-core engine during this run, so
absolute times are noisier and slower than on an idle laptop; the ratios are the meaningful figures. Load:

""" + "\n".join(f"- {l}" for l in LOADS) + "\n" + table(ROWS) + "\n\n## How each row is measured\n\n" + "\n".join(
        f"- {n}" for n in NOTES) + "\n"
    (ROOT / "BENCHMARKS.md").write_text(text)
    return text


NOTES += [
    "**CLI start-up**: wall time of the process, run from an empty folder (so `afc status` fails fast with "
    "\"not an afc project\", exit 3), each command once per round, rounds repeated; one warm-up round first.",
    "**Cold time to healthy**: `afc up` on a fresh project (`afc init` with the stand-in images; images present, "
    "no volumes) until it returns with every service healthy. Baseline: afc's rendered compose.yaml copied to a "
    "separate project with only the health checks changed to the official docker-compose.yaml's timings "
    "(interval 30s, timeout 10s, retries 5, start_period 30s, no start_interval) and afc's start-up wrapper "
    "removed (each service keeps its real check: pg_isready, redis-cli ping, curl of the health endpoint, "
    "celery inspect ping, the job heartbeat query), started with `docker compose up -d --wait`. Each run starts "
    "from nothing and ends with `down --volumes`.",
    "**Warm re-up** (first version, first run): on afc's running, healthy stack, `afc up` then `docker compose "
    "up -d --wait` with the same files, project name and directory (nothing is recreated), three times. Plain compose starts the exited "
    "one-shot `init` service again (migrations check, admin user) and `--wait` waits for it and the services "
    "that depend on it; afc sees every service already healthy and returns.",
    "**Restart with data** (first version, first run only: time budget): `afc down` (volume kept) then `afc up`; baseline `docker compose down` then "
    "`docker compose up -d --wait` on the baseline file. Postgres keeps its data, so `init`'s migration is a "
    "no-op in both.",
    "**Footprint**: `docker stats --no-stream` memory summed over the stack's containers right after it became "
    "healthy (first run), with the processes counted by `docker top` in the webserver/api-server container.",
    f"**Log throughput**: afc only accepts the stack's service names in `afc logs`, so a real afc project's "
    f"`triggerer` gets a compose.override.yaml that replaces its entrypoint by a Python loop printing "
    f"{LOG_LINES:,} lines then sleeping; it is started alone (`up --no-deps`). `afc logs -f triggerer` and "
    f"`docker compose logs -f triggerer` then each read the whole log from the start; measured: time until the "
    f"last line arrives (lines/s over the whole command, start-up included) and the delay to the first line. "
    f"Both read the engine's json-file log; afc passes `docker compose logs` through to the terminal.",
    "**Image build**: a 2.10.4 LocalExecutor project with `requirements.txt` (toolz==1.0.0) and its wheel in "
    "`wheels/` (pip offline). Baseline: `DOCKER_BUILDKIT=0 docker build --quiet` of the Dockerfile and context "
    "afc stages, tagged separately. Cold: both images removed first (and with them their untagged layers, the "
    "classic builder's cache). Unchanged: right after a build, the same command again.",
]


def guarded(label: str, function, *args) -> None:
    """Run one benchmark section; a failure is noted in the report and the next section still runs."""
    try:
        function(*args)
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as error:
        NOTES.append(f"**{label} failed**: {str(error).strip()[:600]}")
        log(NOTES[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 run per stack measurement (for development)")
    parser.add_argument("--only", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}")
    parser.add_argument("--runs", type=int, help="runs per stack measurement (default 3, --quick 1)")
    parser.add_argument("--budget", type=float, default=25, help="minutes for the whole benchmark: further "
                        "cold-start runs are skipped when they would not fit (default 25)")
    parser.add_argument("--versions", default=",".join(VERSIONS), help="Airflow versions of the cold rows")
    args = parser.parse_args()
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    bad = [s for s in args.only if s not in SECTIONS]
    if bad:
        parser.error(f"unknown section(s) {bad}; choose from {SECTIONS}")
    sections = set(args.only)
    versions = [v.strip() for v in args.versions.split(",") if v.strip()]
    stack_runs = args.runs or (1 if args.quick else 3)
    deadline = time.monotonic() + args.budget * 60

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    started = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    t0 = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="afc-bench-"))
    status = 0
    try:
        load("start")
        if "startup" in sections:
            guarded("CLI start-up", bench_startup, work, 5 if args.quick else 15)
        if sections & {"cold", "warm", "restart", "footprint"}:
            for n, version in enumerate(versions):
                # warm re-up and restart: first version only (time budget); cold and footprint: every version.
                extra = sections & ({"warm", "restart"} if n == 0 else set())
                extra |= sections & {"footprint"}
                if "cold" in sections or extra:
                    reserve = 240 * ("footprint" in sections) + 120 * ("logs" in sections)
                    # the first version also does warm re-up and restart (~5 min on a busy machine)
                    extras = 300 * bool(extra & {"warm", "restart"})
                    share = (deadline - reserve - time.monotonic() - extras) / (len(versions) - n) + extras
                    guarded(f"Airflow {version} stacks", bench_stacks, work, version, stack_runs,
                            (sections & {"cold"}) | extra, 18300 + 10 * n, share)
                    load(f"after Airflow {version}")
            if "footprint" in sections:
                guarded("LocalExecutor footprint", bench_local_footprint, work, versions[-1], 18340)
        if "logs" in sections:
            guarded("Log throughput", bench_logs, work, 3 if args.quick else 7, 18350)
        if "build" in sections:
            guarded("Image build", bench_build, work, 1 if args.quick else 3)
        load("end")
    except KeyboardInterrupt:
        log("interrupted: removing the bench stacks")
        status = 130
    except Exception as error:
        log(f"benchmark failed: {error}")
        status = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        cleanup_all()
        shutil.rmtree(work, ignore_errors=True)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if ROWS:
        text = write_report(args, started, time.perf_counter() - t0)
        print(text[text.index("###"):] if "###" in text else text)
        log(f"wrote {ROOT / 'BENCHMARKS.md'}")
    return status


if __name__ == "__main__":
    sys.exit(main())
