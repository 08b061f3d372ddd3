"""6. Log throughput: `afc logs -f` against `docker compose logs -f` on a service that printed many lines."""
from __future__ import annotations

import os
import signal
import subprocess
import time

import yaml

from ..core import AFC, ENV, Bench, Row, Series, run, section
from ..stack_tools import afc_project, compose, remove

SECTION = "6. Log throughput"
LOG_LINES = 100_000
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


def spamming_stack(bench: Bench, name: str, port: int):
    """An afc project whose triggerer prints LOG_LINES lines then sleeps; started alone, its log complete."""
    folder = afc_project(bench.work, name, "2.10.4", port)
    (folder / "compose.override.yaml").write_text(yaml.safe_dump({"services": {"triggerer": {
        "entrypoint": ["python", "-c", SPAM], "restart": "no", "healthcheck": {"disable": True}}}}))
    run(compose(name, folder, "up", "--detach", "--no-deps", "triggerer"))
    deadline = time.monotonic() + 120
    while b"spam-done" not in subprocess.run(["docker", "logs", "--tail", "1", f"{name}-triggerer-1"],
                                             capture_output=True).stdout:
        if time.monotonic() > deadline:
            raise RuntimeError("the log spammer did not finish printing in 120 s")
        time.sleep(0.5)
    return folder


@section("logs", title="Log throughput", how=(
    f"**Log throughput**: afc only accepts the stack's service names in `afc logs`, so a real afc project's "
    f"`triggerer` gets a compose.override.yaml that replaces its entrypoint by a Python loop printing "
    f"{LOG_LINES:,} lines then sleeping; it is started alone (`up --no-deps`). `afc logs -f triggerer` and "
    f"`docker compose logs -f triggerer` then each read the whole log from the start; measured: time until the "
    f"last line arrives (lines/s over the whole command, start-up included) and the delay to the first line. "
    f"Both read the engine's json-file log; afc passes `docker compose logs` through to the terminal.",))
def logs(bench: Bench) -> None:
    name = "bench-logs"
    folder = spamming_stack(bench, name, 18350)
    afc_cmd = AFC + ["--project-dir", str(folder), "logs", "-f", "triggerer"]
    base_cmd = compose(name, folder, "logs", "-f", "triggerer")
    rate_a, rate_b, first_a, first_b = Series(), Series(), Series(), Series()
    flow_a, flow_b = Series(), Series()
    follow(afc_cmd), follow(base_cmd)  # warm-up
    for _ in range(3 if bench.quick else 7):
        for cmd, rate, first, flow in ((afc_cmd, rate_a, first_a, flow_a), (base_cmd, rate_b, first_b, flow_b)):
            t_first, t_all, lines = follow(cmd)
            if lines < LOG_LINES:
                raise RuntimeError(f"{' '.join(cmd)} gave {lines} lines, expected {LOG_LINES}")
            rate.add(LOG_LINES / t_all / 1000)
            first.add(t_first * 1000)
            flow.add(LOG_LINES / (t_all - t_first) / 1000)
    remove(name)
    what = f"{LOG_LINES:,} lines already in the log of a stack service (its command overridden to print them)"
    baseline = "`docker compose logs -f triggerer`"
    bench.add(Row(SECTION, f"`afc logs -f triggerer`: {what}", rate_a, rate_b, baseline, "k lines/s", 1,
                  target=0.9, higher_is_better=True,
                  note="whole command, start-up included, until the last line arrives"))
    bench.add(Row(SECTION, "`afc logs -f triggerer`: lines/s once the first line arrived", flow_a, flow_b,
                  baseline, "k lines/s", 1,
                  note="afc runs `docker compose logs --no-color --no-log-prefix` with stdout inherited "
                       "(no copy through Python); the baseline command adds the service prefix"))
    bench.add(Row(SECTION, "`afc logs -f triggerer`: delay to the first line", first_a, first_b, baseline, "ms", 0))
